"""Prompts the policy sees: the Mulberry/R1-VL reasoning prompt, a `<think>` variant, and the chat
messages TRL's trainers take.

R1-VL trains and evaluates with the Mulberry prompt (its SFT user turns carry it, and the eval
harness wraps every question in it), so `r1vl` is the default. Multiple-choice questions get the
harness's "Choices:" block. Images are not placed in the messages here: TRL inserts the image part
itself from the dataset's `image` column (`prepare_multimodal_messages`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# R1-VL's REASONING_PROMPT (github.com/jingyi0000/R1-VL, eval/qwen2_vl/model.py; the same text opens
# the user turns of its Mulberry warm-up data), kept verbatim, unbalanced quote included, because the
# warm-up data and the released checkpoints saw exactly this text (docs/training.md "Data").
REASONING_PROMPT = (
    "Generate an image description based on the question.\n"
    "Then, provide a rationale to analyze the question.\n"
    "Next, generate a step-by-step reasoning process to solve the problem. "
    "Ensure the steps are logical and concise.\n"
    "Finally, provide a concise summary of the final answer in the following format: "
    "'The final answer is: xxx.\n\n"
    "Format your response with the following sections, separated by ###:\n"
    "### Image Description:\n"
    "### Rationales:\n"
    "### Let's think step by step.\n"
    "### Step 1:\n"
    "### Step 2:\n"
    "...\n"
    "### The final answer is: \n\n"
    "{question}"
)

THINK_PROMPT = (
    "Think step by step inside <think> </think>, writing each step on its own line as "
    "'Step 1: ...', 'Step 2: ...', then give only the final answer inside <answer> </answer>.\n\n"
    "{question}"
)

PROMPTS: dict[str, str] = {"r1vl": REASONING_PROMPT, "think": THINK_PROMPT}

CHOICES_INSTRUCTION = "Please select the correct answer from the choices above."


def choice_letters(count: int) -> list[str]:
    return [chr(ord("A") + index) for index in range(count)]


def format_question(question: str, choices: Sequence[str] | Mapping[str, str] | None = None) -> str:
    """The question as the eval harness writes it: `Question: ...`, then the lettered choices
    (unless the question already lists them, as ChartMath's do: the harness then adds none either)."""
    text = question.strip()
    if not text.startswith("Question:"):
        text = f"Question: {text}"
    if choices and "Choices:" not in text:
        if isinstance(choices, Mapping):
            items = list(choices.items())
        else:
            items = list(zip(choice_letters(len(choices)), choices, strict=True))
        lines = "\n".join(f"{letter}: {option}" for letter, option in items)
        text = f"{text}\nChoices:\n{lines}\n{CHOICES_INSTRUCTION}"
    return text


def build_prompt_text(question: str, choices: Sequence[str] | Mapping[str, str] | None = None,
                      reasoning_format: str = "r1vl") -> str:
    try:
        template = PROMPTS[reasoning_format]
    except KeyError:
        raise ValueError(f"unknown reasoning_format {reasoning_format!r}; allowed: {sorted(PROMPTS)}") from None
    return template.format(question=format_question(question, choices))


def build_messages(question: str, choices: Sequence[str] | Mapping[str, str] | None = None,
                   reasoning_format: str = "r1vl", system: str | None = None) -> list[dict[str, Any]]:
    """One user turn (plus an optional system turn) in TRL's conversational format.

    Content is a plain string; for an image row TRL adds the image part before the text, as
    R1-VL's `make_conversation_image` does. No system prompt by default, so Qwen2-VL's template
    supplies its "You are a helpful assistant." exactly as in the paper's runs.
    """
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": build_prompt_text(question, choices, reasoning_format)})
    return messages

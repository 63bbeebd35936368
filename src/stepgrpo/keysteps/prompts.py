"""The three LLM stages of R1-VL's key-step preparation, as prompts with JSON answers.

R1-VL released only its first-stage prompt, whose output is free text; the refine and augment
prompts were never published (reference notes §3.1). These are our own: each stage answers one
JSON object whose shape a pydantic model in `llm.py` checks, and each stage sees
the previous stage's validated output, so the cache key (model, prompt, stage) covers the whole
chain.
"""

from __future__ import annotations

import json

SYSTEM = ("You prepare reward data for training reasoning models. You answer with one JSON object "
          "and nothing else.")

EXTRACT = """Below is a reference solution to a question. Its reasoning steps are listed one per line.

Extract the KEY STEPS of the reasoning: the intermediate results a correct solution must establish,
so that a checker can later look for them in other solutions.

Rules:
- Prefer equations with their results ("6/3 = 2", "AE = 1/2 AD"), computed values with what they
  measure ("total is 15"), values read from the image or chart ("2019 sales is 45") and named facts
  ("AD is a median").
- Copy each key step VERBATIM from the steps: it must be a contiguous piece of the text below.
- Do not include the final answer sentence, restatements of the question, or general remarks.
- Never extract the same element twice. At most {max_keys} key steps.
{question}
Steps:
{steps}

Answer as JSON: {{"key_steps": ["...", "..."]}}"""

REFINE = """Shorten each key step below to its core: the few words, numbers and the equation that carry
its meaning (at most {max_words} words). Remove filler such as "so", "we get", "therefore", units
repeated twice and trailing punctuation. Keep numbers, variable names and operators exactly as
written. Each core must stay a contiguous piece of the original key step. Drop a key step whose
core would be a bare number or a single letter, and drop duplicates.

Key steps:
{items}

Answer as JSON: {{"key_steps": ["core 1", "core 2"]}}"""

AUGMENT = """For each key step below, write up to {max_alternatives} EQUIVALENT surface forms that another
correct solution might use instead, e.g.
- "AE = 1/2 AD" -> "AE is half of AD", "AE = AD/2"
- "6/3 = 2" -> "6 divided by 3 equals 2", "6 ÷ 3 = 2"
- "\\frac{{12}}{{2}} = 6" -> "12/2 = 6"
- "AD is a median" -> "median is AD"
Each form must mean exactly the same thing; do not add new facts. Keep the original as the first
element of its list and keep the lists in the same order.

Key steps:
{items}

Answer as JSON: {{"key_steps": [["original 1", "alternative", "..."], ["original 2", "..."]]}}"""


def _numbered(items: list[str]) -> str:
    return "\n".join(f"{index}. {json.dumps(item, ensure_ascii=False)}" for index, item in enumerate(items, 1))


def extract_prompt(steps: list[str], question: str | None, max_keys: int) -> str:
    question_block = f"\nQuestion:\n{question.strip()}\n" if question else ""
    lines = "\n".join(f"Step {index}: {' '.join(step.split())}" for index, step in enumerate(steps, 1))
    return EXTRACT.format(steps=lines, question=question_block, max_keys=max_keys)


def refine_prompt(keys: list[str], max_words: int) -> str:
    return REFINE.format(items=_numbered(keys), max_words=max_words)


def augment_prompt(keys: list[str], max_alternatives: int) -> str:
    return AUGMENT.format(items=_numbered(keys), max_alternatives=max_alternatives)

"""The R1-Router step formats: the official system prompts, the user texts of each step, the
route labels and the parsing of model outputs.

User texts follow the official code (OpenBMB/R1-Router `src/data_synthesis`, `src/answer_generation.py`)
character for character; the system prompts are in `stepgrpo.router.prompts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KB_KINDS: tuple[str, ...] = ("text", "image_text", "table")
ROUTE_LABELS: dict[str, str] = {
    "text": "Text Retriever",
    "image_text": "Text Image Retriever",
    "table": "Table Retriever",
}
PASSAGE_TAGS: dict[str, str] = {"text": "ter", "image_text": "tir", "table": "tar"}
NONE = "none"
MAX_RETRIEVALS = 3
"""The official loop allows at most three retrievals, then forces the final answer."""
PASSAGES_SHOWN = 5
"""Each knowledge base's top-5 passages are shown to the sub-answer step."""

FINAL_INSTRUCTION = {
    "train": "Now, give me the final answer of the origin question: {question}",
    "eval": "Based on the information above, give me the final answer of the origin question: {question}",
}
"""The training data and the evaluation loop word the final-answer request differently."""


def kb_from_label(label: str) -> str:
    """Map a route label ("Table Retriever"), a kind name ("table") or "none" to a kind or "none"."""
    key = label.strip().lower()
    if key == NONE:
        return NONE
    for kind, route in ROUTE_LABELS.items():
        if key in {kind, route.lower(), kind.replace("_", " ")}:
            return kind
    allowed = ", ".join([*KB_KINDS, *ROUTE_LABELS.values(), "None"])
    raise ValueError(f"unknown knowledge base {label!r} (allowed: {allowed})")


def router_user_text(question: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """The router step's user text: the question, then each earlier sub-question and its answer."""
    text = f"Origin question: {question}\n"
    for number, (sub_question, sub_answer) in enumerate(history, start=1):
        text += f"Sub-question{number}: {sub_question}\nAnswer{number}: {sub_answer}\n"
    return text


def answer_user_text(sub_question: str, passages: Mapping[str, Sequence[str]]) -> str:
    """The sub-answer step's user text: each knowledge base's top passages, then the sub-question."""
    listing = "".join(
        f"{PASSAGE_TAGS[kind]}-{index}: {passage}\n"
        for kind in KB_KINDS
        for index, passage in enumerate(list(passages.get(kind, ()))[:PASSAGES_SHOWN])
    )
    return (
        "According to the related information searched, `ter` means this info is from text retriever, "
        "`tir` means this info is from text image retriever, `tar` means this info is from table retriever:"
        f"{listing}\n\n Give me the answer(with the format <answer></answer>) to the Question: {sub_question}"
    )


def final_user_text(question: str, history: Sequence[tuple[str, str]], wording: str = "train") -> str:
    """The final-answer step's user text: the router text with the full history and the request."""
    return router_user_text(question, history) + FINAL_INSTRUCTION[wording].format(question=question)


_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_SUB_QUESTION = re.compile(r"<sub-question>(.*?)</sub-question>", re.DOTALL)
_RET = re.compile(r"<ret>(.*?)</ret>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_VALID_ROUTES = {*(label.lower() for label in ROUTE_LABELS.values()), NONE}


class StepFormatError(ValueError):
    """A completion that does not follow the step's output format; the message says why."""


@dataclass(frozen=True)
class RouterStep:
    """A parsed router step. Text is lowercased, as the official parser does before matching."""

    think: str
    sub_question: str
    routes: tuple[str, ...]
    """The `<ret>` entries, each a lowercased route label or "none"."""

    @property
    def kb(self) -> str:
        """The chosen knowledge-base kind, or "none"; the first entry when several are listed."""
        return kb_from_label(self.routes[0])

    @property
    def stops(self) -> bool:
        return self.routes[0] == NONE

    @property
    def consistent(self) -> bool:
        """The inference rule: one route, and the sub-question is "none" exactly when the route is."""
        return len(self.routes) == 1 and (self.sub_question == NONE) == self.stops


def parse_router_step(completion: str) -> RouterStep:
    """Parse `<think>`, `<sub-question>` and `<ret>` as the official reward does (first match each).

    Raises `StepFormatError` when a tag is missing, a route is not one of the three retrievers or
    "none", or "none" is combined with a retriever. The sub-question/route consistency rule of the
    inference loop is not enforced here (the official reward has it commented out); see
    `RouterStep.consistent`.
    """
    text = completion.lower()
    found = {}
    for name, pattern in (("think", _THINK), ("sub-question", _SUB_QUESTION), ("ret", _RET)):
        match = pattern.search(text)
        if match is None:
            raise StepFormatError(f"no <{name}>...</{name}> block")
        found[name] = match.group(1).strip()
    routes = tuple(item.strip() for item in found["ret"].split(","))
    for route in routes:
        if route not in _VALID_ROUTES:
            raise StepFormatError(f"unknown retriever {route!r} in <ret>")
    if NONE in routes and len(routes) > 1:
        raise StepFormatError("<ret> combines 'none' with a retriever")
    return RouterStep(think=found["think"], sub_question=found["sub-question"], routes=routes)


def parse_answer_step(completion: str) -> str:
    """The `<answer>` text of a sub-answer or final-answer step; `<think>` must be present too."""
    text = completion.lower()
    if _THINK.search(text) is None:
        raise StepFormatError("no <think>...</think> block")
    match = _ANSWER.search(text)
    if match is None:
        raise StepFormatError("no <answer>...</answer> block")
    return match.group(1).strip()


def router_completion(sub_question: str, kb: str, think: str = "") -> str:
    """A router-step output in the official format (the reference completion for SFT)."""
    stop = kb_from_label(kb) == NONE
    think = think or ("No further information is needed to answer the origin question." if stop else
                      "One more single-hop fact is needed.")
    route = "None" if stop else ROUTE_LABELS[kb_from_label(kb)]
    question = "None" if stop else sub_question
    return f"<think>\n{think}\n</think>\n<sub-question>\n{question}\n</sub-question>\n<ret>\n{route}\n</ret>"


def answer_completion(answer: str, think: str = "") -> str:
    """A sub-answer or final-answer output in the official format (the reference completion for SFT)."""
    think = think or "The information above answers the question."
    return f"<think>\n{think}\n</think>\n<answer>\n{answer}\n</answer>"

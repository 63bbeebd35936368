"""The row layouts StepRAR data comes in, and the reference reasoning inside them.

Two layouts carry key steps:

* **R1-VL** (the released R1-VL-10K data): `image_path`, `problem`, `solution` and
  `key_steps: {"Steps": [[alt, ...], "single alt", ...]}`; a group may be a bare string.
* **TRL** (what `GRPOTrainer` reads): `prompt` (conversational), `image` or `images`, `solution`
  and `key_steps` as a list of lists; every column reaches the reward functions as a keyword.

Inside the library a key-step set is always `list[list[str]]`: one inner list per key step, its
equivalent surface forms in order, the first being the canonical one.

Reference reasoning is read from a plain text field (`solution`) or from an SFT conversation
(`messages` with role/content turns, or sharegpt `conversations` with from/value turns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepgrpo.cells import CellError, key_steps_cell

KeySteps = list[list[str]]

ASSISTANT_ROLES = ("assistant", "gpt", "model", "bot")
USER_ROLES = ("user", "human")
CONVERSATION_FIELDS = ("messages", "conversations")
REASONING_FIELDS = (*CONVERSATION_FIELDS, "solution")
QUESTION_FIELDS = ("problem", "question", "prompt", *CONVERSATION_FIELDS)
LAYOUTS = ("keep", "r1vl", "trl")


class LayoutError(ValueError):
    """A row's field does not have the shape its layout requires; the message names the field."""


def parse_key_steps(value: Any, field: str = "key_steps") -> KeySteps:
    """Normalise key steps from either layout (or their JSON text) to `list[list[str]]`."""
    try:
        return key_steps_cell(value, field)
    except CellError as error:
        raise LayoutError(str(error)) from None


def r1vl_key_steps(groups: KeySteps) -> dict[str, KeySteps]:
    """The R1-VL `key_steps` value: `{"Steps": [[...], ...]}`."""
    return {"Steps": [list(group) for group in groups]}


def _turns(value: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(value, Sequence) and not isinstance(value, str) and value and all(
            isinstance(turn, Mapping) for turn in value):
        return list(value)
    return None


def _turn_role(turn: Mapping[str, Any]) -> str:
    return str(turn.get("role", turn.get("from", ""))).lower()


def _turn_text(turn: Mapping[str, Any]) -> str:
    content = turn.get("content", turn.get("value"))
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal content parts: keep the text ones
        return "\n".join(part.get("text") or "" for part in content
                         if isinstance(part, Mapping) and part.get("type") == "text")
    return ""


def _last_turn(turns: list[Mapping[str, Any]], roles: Sequence[str]) -> str | None:
    for turn in reversed(turns):
        if _turn_role(turn) in roles:
            return _turn_text(turn)
    return None


@dataclass(frozen=True)
class Fields:
    """Which row fields hold the reference reasoning and the question; None means look for the usual names."""

    reasoning: str | None = None
    question: str | None = None

    def reasoning_of(self, row: Mapping[str, Any]) -> str:
        """The reference reasoning: a text field, or the last assistant turn of a conversation."""
        names = (self.reasoning,) if self.reasoning else REASONING_FIELDS
        present = [name for name in names if row.get(name) not in (None, "", [])]
        if not present:
            raise LayoutError(f"no reference reasoning: none of the fields {list(names)} is present and non-empty")
        name = present[0]
        value = row[name]
        if isinstance(value, str):
            return value
        turns = _turns(value)
        if turns is None:
            raise LayoutError(f"field {name!r}: expected text or a conversation (a list of turns), "
                              f"got {type(value).__name__}")
        text = _last_turn(turns, ASSISTANT_ROLES)
        if not text or not text.strip():
            raise LayoutError(f"field {name!r}: the conversation has no non-empty assistant turn "
                              f"(roles {list(ASSISTANT_ROLES)})")
        return text

    def question_of(self, row: Mapping[str, Any]) -> str | None:
        """The question text, when the row has one (used as context for the LLM extractor)."""
        for name in (self.question,) if self.question else QUESTION_FIELDS:
            value = row.get(name)
            if isinstance(value, str) and value.strip():
                return value
            turns = _turns(value)
            if turns is not None:
                text = _last_turn(turns, USER_ROLES)
                if text and text.strip():
                    return text
        return None


DEFAULT_FIELDS = Fields()


def _images(row: Mapping[str, Any]) -> list[Any]:
    for name in ("images", "image", "image_path"):
        value = row.get(name)
        if value is None or value == []:
            continue
        return list(value) if isinstance(value, list) else [value]
    return []


def to_r1vl(row: Mapping[str, Any], key_steps: KeySteps, fields: Fields = DEFAULT_FIELDS) -> dict[str, Any]:
    """A row in the R1-VL layout. `solution` keeps the reference reasoning, as in R1-VL-10K."""
    images = _images(row)
    return {"image_path": images[0] if len(images) == 1 else images or None,
            "problem": fields.question_of(row) or "",
            "solution": fields.reasoning_of(row),
            "key_steps": r1vl_key_steps(key_steps)}


def to_trl(row: Mapping[str, Any], key_steps: KeySteps, fields: Fields = DEFAULT_FIELDS,
           answer: str | None = None) -> dict[str, Any]:
    """A row `GRPOTrainer` reads: a conversational `prompt`, `image`/`images`, `solution`, `key_steps`.

    `solution` is the reference's final `answer` when one is given (what the outcome reward compares
    with), else the reference reasoning. TRL inserts the image placeholders itself when the prompt is
    conversational and an image column is present, so the prompt carries text only.
    """
    out: dict[str, Any] = {"prompt": [{"role": "user", "content": fields.question_of(row) or ""}],
                           "solution": answer or fields.reasoning_of(row),
                           "key_steps": [list(group) for group in key_steps]}
    images = _images(row)
    if len(images) == 1:
        out["image"] = images[0]
    elif images:
        out["images"] = images
    return out


def with_key_steps(row: Mapping[str, Any], key_steps: KeySteps, layout: str = "keep",
                   fields: Fields = DEFAULT_FIELDS, answer: str | None = None) -> dict[str, Any]:
    """The output row for `layout`: `keep` adds `key_steps` (list of lists) to the row as it is."""
    if layout == "keep":
        return {**row, "key_steps": [list(group) for group in key_steps]}
    if layout == "r1vl":
        return to_r1vl(row, key_steps, fields)
    if layout == "trl":
        return to_trl(row, key_steps, fields, answer)
    raise ValueError(f"unknown layout {layout!r}; allowed: {list(LAYOUTS)}")

"""One place that turns row cells, as files and libraries deliver them, into the forms rewards read.

A `key_steps` cell arrives as R1-VL's `{"Steps": [...]}`, a list of lists, a list mixing groups and
single strings (`[["4 + 4 = 8"], "eight"]`), a JSON string of any of these (after a CSV or parquet
round trip), numpy arrays (pandas rows) or None/NaN. All become the one canonical, Arrow-storable
form `list[list[str]]`: one inner list per key step, its equivalent forms in order.

`strict=True` (data preparation, `stepgrpo score`) raises `CellError` naming the field and position;
`strict=False` (reward functions in a training loop) skips what it cannot read, so one bad cell
costs its own key steps, not the run. No numpy, pandas or datasets import: arrays and rows are
recognised by their `tolist` / `to_dict` methods.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

KeySteps = list[list[str]]


class CellError(ValueError):
    """A cell that cannot be read; the message names the field (and position) first."""


def plain(value: Any) -> Any:
    """numpy arrays and scalars, pandas rows and tuples → Python lists, dicts and scalars."""
    if hasattr(value, "to_dict") and not isinstance(value, Mapping):
        value = value.to_dict()  # a pandas Series (row)
    elif hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # numpy arrays and scalars
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def is_missing(value: Any) -> bool:
    """None, NaN (how pandas fills an empty cell) or an empty string."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def key_steps_cell(value: Any, field: str = "key_steps", *, strict: bool = True,
                   skip_empty: bool = False) -> KeySteps:
    """Any accepted key-step cell → `list[list[str]]` (see the module docstring).

    `skip_empty` drops an empty group (`[]`, `[""]`) instead of naming it as an error."""
    value = plain(value)
    if is_missing(value):
        return []
    if isinstance(value, str):
        try:
            value = plain(json.loads(value))
        except json.JSONDecodeError:
            if strict:
                raise CellError(f"field {field!r}: a string that is not JSON key steps") from None
            return []
    if isinstance(value, Mapping):
        steps = next((value[key] for key in (("Steps",) if strict else ("Steps", "steps")) if key in value), None)
        if steps is None:
            if strict:
                raise CellError(f"field {field!r}: an object without a 'Steps' list (R1-VL layout)")
            return []
        value, field = steps, f"{field}.Steps"
    if is_missing(value):
        return []
    if not isinstance(value, list):
        if strict:
            raise CellError(f"field {field!r}: expected a list of key steps, got {type(value).__name__}")
        return []
    groups: KeySteps = []
    for index, group in enumerate(value):
        alternatives = [group] if isinstance(group, str) else group
        if not isinstance(alternatives, list) or not all(isinstance(alt, str) for alt in alternatives):
            if strict:
                raise CellError(f"field {field}[{index}]: expected a string or a list of strings, "
                                f"got {_describe(group)}")
            alternatives = [alt for alt in alternatives if isinstance(alt, str)] if isinstance(
                alternatives, list) else []
        cleaned = [alt.strip() for alt in alternatives if alt.strip()]
        if cleaned:
            groups.append(cleaned)
        elif strict and not skip_empty:
            raise CellError(f"field {field}[{index}]: an empty key step")
    return groups


def solution_cell(value: Any, field: str = "solution") -> str:
    """A ground truth as text: numbers (`12`, `12.5`, numpy scalars) become their usual spelling."""
    value = plain(value)
    if isinstance(value, bool) or is_missing(value) or not isinstance(value, str | int | float):
        raise CellError(f"field {field!r}: missing or not a string or number (got {_describe(value)})")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(f"field {field!r}: not a finite number ({value})")
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def text_cell(value: Any) -> str:
    """Message content as text: None is empty, multimodal parts keep their text parts."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return str(value.get("text") or "")
    if isinstance(value, list):
        return "".join(text_cell(part) for part in value if isinstance(part, Mapping | str))
    return ""


def completion_cell(value: Any) -> str:
    """A completion as text: a string, one message, or a conversation (its contents joined)."""
    value = plain(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return ""
    return "".join(text_cell(message.get("content")) if isinstance(message, Mapping) else text_cell(message)
                   for message in value)


def choices_cell(value: Any, field: str = "choices") -> dict[str, str] | None:
    """Options as letter → text: a dict, a JSON string of one or of a list, a list (A, B, ...), or None."""
    value = plain(value)
    if is_missing(value) or value == [] or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = plain(json.loads(value))
        except json.JSONDecodeError:
            raise CellError(f"field {field!r}: a string that is not a JSON object or list") from None
    if isinstance(value, Mapping):
        return {str(key).strip(): str(text) for key, text in value.items() if text is not None}
    if isinstance(value, list):
        return {chr(ord("A") + index): str(text) for index, text in enumerate(value) if index < 26}
    raise CellError(f"field {field!r}: choices must be a dict, a JSON object string or a list, "
                    f"got {type(value).__name__}")


def row_dict(row: Any) -> dict[str, Any]:
    """A row (dict, pandas Series, or anything with `to_dict`) as a plain dict."""
    value = plain(row)
    if not isinstance(value, Mapping):
        raise CellError(f"a row must be an object of fields, got {type(row).__name__}")
    return dict(value)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"

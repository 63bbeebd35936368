"""What every benchmark loader produces and the helpers they share.

A loader turns one benchmark's released files into `Item`s: the question as the model is asked it,
the reference answer, an image reference (a PIL image, raw bytes or a checked file path, opened
only when the item is generated) and the fields its scoring rule needs in `meta`. Errors name the
file, the row (`file:line` or `file[index]`) and the field.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from stepgrpo.data.io import DataFileError, Row, iter_rows

ImageRef = Image.Image | bytes | Path
Record = dict[str, Any]  # one scored prediction: id, completion, extracted, correct, meta


class BenchmarkDataError(ValueError):
    """A benchmark file does not have its released layout; the message names file, row and field."""


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    """The question text as the benchmark poses it, before the reasoning prompt wraps it."""
    answer: str
    """The reference answer in the benchmark's own encoding (a letter, a value, "Yes"/"No")."""
    image: ImageRef | None = None
    choices: dict[str, str] | None = None
    """Lettered options; scoring reads them to accept an option's text as well as its letter."""
    choices_in_question: bool = False
    """True when the question text already lists the options, so the prompt must not repeat them."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The benchmark fields scoring and grouping need (answer type, subtask, figure id, ...)."""
    where: str = ""

    @property
    def prompt_choices(self) -> dict[str, str] | None:
        return None if self.choices_in_question else self.choices


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: how to read its files, score one prediction, and summarise a run."""

    name: str
    title: str
    load: Callable[[Path], list[Item]]
    correct: Callable[[Item, str | None], bool]
    """Whether the answer extracted from the final-answer section is right, by the benchmark's rule."""
    summarize: Callable[[list[Record]], dict[str, float]]
    primary: str
    """The metric the paper's table reports (a key of `summarize`'s result)."""
    layout: str
    """The released layout `load` expects, for docs and error messages."""
    judge: str | None = None
    """How the official scoring uses a model judge, when it does; ours stays rule-based."""
    scale: float = 100.0
    """The top of the primary metric's range (MME's summed score runs to 2800)."""


# ---------------------------------------------------------------- reading rows


def read_table(path: Path) -> Iterator[Row]:
    """Rows of `path`: JSONL / JSON / parquet / a saved datasets folder, a JSON object keyed by id
    (MathVista's `testmini.json`), or a VLMEvalKit-style TSV with base64 images."""
    if path.is_file() and path.suffix.lower() == ".tsv":
        yield from _read_tsv(path)
        return
    if path.is_file() and path.suffix.lower() == ".json":
        keyed = _keyed_json(path)
        if keyed is not None:
            yield from keyed
            return
    try:
        for row in iter_rows(path):
            if not isinstance(row, Row):
                raise BenchmarkDataError(str(row))
            yield row
    except DataFileError as error:
        raise BenchmarkDataError(str(error)) from None


def _keyed_json(path: Path) -> list[Row] | None:
    """`{"1": {...}, "2": {...}}` becomes rows with the key kept as `_key`; anything else is None."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BenchmarkDataError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})") from None
    if not (isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values())):
        return None
    return [Row(f"{path}[{key!r}]", {"_key": key, **row}) for key, row in value.items()]


def _read_tsv(path: Path) -> Iterator[Row]:
    csv.field_size_limit(sys.maxsize)  # base64 images are far longer than csv's 128 KiB default
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter="\t"), start=2):
            yield Row(f"{path}:{number}", dict(row))


def require(row: Row, name: str) -> Any:
    value = row.data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BenchmarkDataError(f"{row.where}: field {name!r} is missing or empty")
    return value


def first_present(row: Row, *names: str) -> Any:
    """The first of `names` the row has, non-empty; an error naming all of them otherwise."""
    for name in names:
        value = row.data.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    raise BenchmarkDataError(f"{row.where}: none of the fields {list(names)} is present and non-empty")


def text(value: Any) -> str:
    """A field as text: numbers from parquet become strings ("3.0" stays as written)."""
    return value if isinstance(value, str) else str(value)


def unique_ids(items: list[Item]) -> list[Item]:
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise BenchmarkDataError(f"{item.where}: id {item.id!r} repeats the one at {seen[item.id]}")
        seen[item.id] = item.where
    return items


# ---------------------------------------------------------------- images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


def image_ref(value: Any, roots: list[Path], where: str, name: str) -> ImageRef | None:
    """Resolve an image field: a decoded PIL image, `{"bytes", "path"}` (datasets), raw bytes, a
    path relative to one of `roots`, or base64 text (VLMEvalKit TSVs). A missing file is an error."""
    if value is None or value == "":
        return None
    if isinstance(value, Image.Image | bytes):
        return value
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        return image_ref(value.get("path"), roots, where, name)
    if isinstance(value, list) and len(value) == 1:  # an `images` column holding one image
        return image_ref(value[0], roots, where, name)
    if not isinstance(value, str):
        raise BenchmarkDataError(f"{where}: field {name!r}: expected an image, a path or base64 text, "
                                 f"got {type(value).__name__}")
    candidate = value.strip()
    for root in roots:
        path = root / candidate
        try:
            if path.is_file():
                return path.resolve()
        except OSError:  # base64 text is no file name ("File name too long")
            break
    if not candidate.lower().endswith(IMAGE_SUFFIXES):
        try:
            return base64.b64decode(candidate, validate=True)
        except (binascii.Error, ValueError):
            pass
    tried = ", ".join(str(root) for root in roots)
    raise BenchmarkDataError(f"{where}: field {name!r}: image {candidate[:80]!r} not found under {tried} "
                             f"(and not base64 image data)")


def open_image(ref: ImageRef) -> Image.Image:
    """The RGB image behind a reference (opened at generation time, so a run never holds them all)."""
    if isinstance(ref, Image.Image):
        image = ref
    elif isinstance(ref, bytes):
        image = Image.open(io.BytesIO(ref))
    else:
        image = Image.open(ref)
    return image.convert("RGB")


# ---------------------------------------------------------------- choices

# "A: text", "A. text", "A) text" at the start of the list, a line or after a comma; "(A) text" anywhere.
_OPTION = re.compile(r"(?:(?:^|\n|,)[ \t]*([A-H])[.:)]|(?:^|\s)\(([A-H])\))[ \t]*")
_CHOICES_BLOCK = re.compile(r"(?:^|(?<=\s))(?:Choices|Options)\s*:\s*", re.IGNORECASE)


def parse_inline_choices(question: str) -> dict[str, str] | None:
    """Options listed after `Choices:` / `Options:` in a question (MathVerse, MMStar, DynaMath),
    in any of "A: x", "A. x", "(A) x", one per line or comma-separated; None when there are none."""
    block = list(_CHOICES_BLOCK.finditer(question))
    if not block:
        return None
    tail = question[block[-1].end():]
    marks = list(_OPTION.finditer(tail))
    letters = [m.group(1) or m.group(2) for m in marks]
    # Accept only a run A, B, C, ... so a stray capital in an option's text is not read as a label.
    expected = [chr(ord("A") + i) for i in range(len(letters))]
    run = 0
    while run < len(letters) and letters[run] == expected[run]:
        run += 1
    if run < 2:
        return None
    marks = marks[:run]
    options: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(tail)
        options[letters[index]] = tail[mark.end():end].strip().rstrip(",").strip()
    return options


def lettered(options: list[str]) -> dict[str, str]:
    return {chr(ord("A") + index): str(option) for index, option in enumerate(options)}

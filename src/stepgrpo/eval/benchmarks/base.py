"""What every benchmark loader produces and the helpers they share.

A loader turns one benchmark's released files into `Item`s: the question as the model is asked it,
the reference answer, an image reference (a PIL image, raw bytes or a checked file path, opened
only when the item is generated) and the fields its scoring rule needs in `meta`. Errors name the
file, the row (`file:line` or `file[index]`) and the field.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from stepgrpo.data.io import Row
from stepgrpo.eval.layouts import BenchmarkDataError, literal_list

Record = dict[str, Any]  # one scored prediction: id, completion, extracted, correct, meta


@dataclass(frozen=True)
class MissingImage:
    """An image the row names but the download lacks: the item is refused, or dropped and the run
    marked partial under --allow-partial."""

    where: str
    name: str
    tried: str

    def __str__(self) -> str:
        return f"{self.where}: image {self.name!r} not found under {self.tried}"


ImageRef = Image.Image | bytes | Path | MissingImage


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
    image_field: str = "image"
    """The row field the image came from, so an unreadable image is reported by file, row and field."""

    @property
    def prompt_choices(self) -> dict[str, str] | None:
        return None if self.choices_in_question else self.choices


@dataclass(frozen=True)
class Loaded:
    """A benchmark as read from disk, and why it is not the whole release (empty when it is)."""

    items: list[Item]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: how to read its files, score one prediction, and summarise a run."""

    name: str
    title: str
    load: Callable[[Path], Loaded]
    correct: Callable[[Item, str | None], bool]
    """Whether the answer extracted from the final-answer section is right, by the benchmark's rule."""
    summarize: Callable[[list[Record]], dict[str, float]]
    primary: str
    """The metric the paper's table reports (a key of `summarize`'s result)."""
    layout: str
    """The released layout `load` expects, for docs and error messages."""
    judge: str | None = None
    """How the official scoring uses a model judge, when it does; ours stays rule-based."""
    sizes: tuple[int, ...] = ()
    """Question counts of the full releases (any split the loader accepts); another count is partial."""
    check: Callable[[list[Item]], list[str]] | None = None
    """What else a complete release has (MME's 14 subtasks and question pairs, DynaMath's 10 variants)."""


# ---------------------------------------------------------------- reading fields


def require(row: Row, name: str) -> Any:
    value = row.data.get(name)
    if is_missing(value):
        raise BenchmarkDataError(f"{row.where}: field {name!r} is missing or empty")
    return value


def first_present(row: Row, *names: str) -> Any:
    """The first of `names` the row has, non-empty; an error naming all of them otherwise."""
    for name in names:
        value = row.data.get(name)
        if not is_missing(value):
            return value
    raise BenchmarkDataError(f"{row.where}: none of the fields {list(names)} is present and non-empty")


def present_name(row: Row, *names: str) -> str:
    """The name of the first of `names` the row has, non-empty (the field `first_present` reads)."""
    return next((name for name in names if not is_missing(row.data.get(name))), names[0])


def text(value: Any) -> str:
    """A field as text: numbers from parquet become strings ("3.0" stays as written)."""
    return value if isinstance(value, str) else str(value)


def is_missing(value: Any) -> bool:
    """An empty cell: None, "", or NaN (pandas writes missing TSV/parquet cells as NaN)."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and value != value)


def unique_ids(items: list[Item]) -> list[Item]:
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise BenchmarkDataError(f"{item.where}: id {item.id!r} repeats the one at {seen[item.id]}")
        seen[item.id] = item.where
    return items


# ---------------------------------------------------------------- images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
BASE64_MIN = 64  # shorter text is a file name (or, in a VLMEvalKit TSV, another row's index)


def image_ref(value: Any, roots: Sequence[Path], where: str, name: str) -> ImageRef | None:
    """Resolve an image field: a decoded PIL image, `{"bytes", "path"}` (datasets), raw bytes, a
    path relative to one of `roots` ("./" and all), or base64 text (VLMEvalKit TSVs). A file that
    is not there becomes a `MissingImage`, which the completeness check reports."""
    if value is None or value == "":
        return None
    if isinstance(value, Image.Image | bytes):
        return value
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        return image_ref(value.get("path"), roots, where, name)
    if isinstance(value, list | tuple) and len(value) == 1:  # an `images` column holding one image
        return image_ref(value[0], roots, where, name)
    if not isinstance(value, str):
        raise BenchmarkDataError(f"{where}: field {name!r}: expected an image, a path or base64 text, "
                                 f"got {type(value).__name__}")
    candidate = value.strip()
    relative = candidate[2:] if candidate.startswith("./") else candidate
    for root in roots:
        path = root / relative
        try:
            if path.is_file():
                return path.resolve()
        except OSError:  # base64 text is no file name ("File name too long")
            break
    if len(candidate) > BASE64_MIN:
        try:
            data = base64.b64decode(candidate, validate=True)
            Image.open(io.BytesIO(data))  # reads the header only: is it an image at all?
            return data
        except (binascii.Error, ValueError, OSError):
            pass
    return MissingImage(where, candidate[:80], ", ".join(str(root) for root in roots))


def open_image(ref: ImageRef) -> Image.Image:
    """The RGB image behind a reference (opened at generation time, so a run never holds them all)."""
    if isinstance(ref, MissingImage):
        raise BenchmarkDataError(str(ref))
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
# The same labels separated by spaces only ("Choice: A. 3 B. 4"), tried when the strict form finds no run.
_LOOSE_OPTION = re.compile(r"(?:^|(?<=\s))([A-H])[.:)][ \t]*()")
# "Choices:", "Choice:", "choice:", "Options:", "Option:" (MathVerse, DynaMath, MMStar spell it all ways).
_CHOICES_BLOCK = re.compile(r"(?:^|(?<=\s))(?:Choices?|Options?)\s*:\s*", re.IGNORECASE)


def _lettered_run(tail: str, pattern: re.Pattern[str]) -> dict[str, str] | None:
    """Labels A, B, C, ... found in order, each the first of its letter after the previous one, so a
    capital inside an option's text ("A. Vitamin C. B. Iron") is not read as a label."""
    marks: list[re.Match[str]] = []
    position = 0
    for letter in "ABCDEFGH":
        mark = next((m for m in pattern.finditer(tail, position) if (m.group(1) or m.group(2)) == letter), None)
        if mark is None:
            break
        marks.append(mark)
        position = mark.end()
    if len(marks) < 2:
        return None
    options: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(tail)
        options[chr(ord("A") + index)] = tail[mark.end():end].strip().rstrip(",;").strip()
    return options


def parse_inline_choices(question: str) -> dict[str, str] | None:
    """Options listed after `Choices:` / `Choice:` / `choice:` / `Options:` in a question (MathVerse,
    MMStar, DynaMath), in any of "A: x", "A. x", "(A) x", one per line, comma-separated or
    space-separated; None when there are none."""
    block = list(_CHOICES_BLOCK.finditer(question))
    if not block:
        return None
    tail = question[block[-1].end():]
    return _lettered_run(tail, _OPTION) or _lettered_run(tail, _LOOSE_OPTION)


def reference_letter(answer: str, choices: Mapping[str, str] | None) -> str:
    """The option letter a reference answer names: itself when it is a letter of `choices`, the
    letter of the option whose text it is (MathVerse lists some answers by option text), else as is."""
    answer = answer.strip()
    if not choices:
        return answer
    if answer.upper() in choices:
        return answer.upper()
    same = [letter for letter, option in choices.items() if option.strip().casefold() == answer.casefold()]
    return same[0] if len(same) == 1 else answer


IMAGE_QUESTION = ("The question, with its answer choices if it has any, is shown in the image. "
                  "Read it from the image and answer it.")
"""What an item whose question exists only in the image (MathVerse "Vision Only") is asked."""


def question_text(question: Any, has_image: bool) -> str:
    """The question as asked: the row's text, or `IMAGE_QUESTION` when the text is empty but the
    image holds the question (the prompt would otherwise end in an empty "Question: ")."""
    text_value = "" if question is None or isinstance(question, float) else str(question).strip()
    if not text_value and has_image:
        return IMAGE_QUESTION
    return text_value


def choice_list(row: Row, *names: str) -> list[str]:
    """Option texts from the first of `names` the row has: a list, or a literal list in a TSV cell."""
    for name in names:
        values = literal_list(row.data.get(name))
        if values:
            return [text(value) for value in values]
    return []


def lettered(options: list[str]) -> dict[str, str]:
    return {chr(ord("A") + index): str(option) for index, option in enumerate(options)}

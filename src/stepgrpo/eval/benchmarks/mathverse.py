"""MathVerse (Zhang et al., 2024), testmini: 788 problems in five visual versions (3,940 rows)
plus 788 "Text Only" rows in a separate file. Layouts read: HF `AI4Math/MathVerse` — the
paper-era `testmini.json` with `images_version_1-4/`, `images_version_5/`, `images_version_6/`
beside it; the current `testmini.parquet` with embedded image bytes (and `images.zip`, unzipped
beside the JSON or into `images/`); `testmini_text_only.*` — and VLMEvalKit's `MathVerse_MINI*.tsv`
(all versions, or one per version). Fields: `sample_index` (TSV: `index`), `problem_version`
("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only", "Text Only"),
`question` (options inline after "Choices:" or "Choice:"; empty for "Vision Only", whose question
is in the image), `image`, `answer` (a letter for multiple choice, some items the option text),
`question_type` (`multi-choice` | `free-form`).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    Item,
    Loaded,
    first_present,
    image_ref,
    is_missing,
    parse_inline_choices,
    question_text,
    reference_letter,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

PROBLEMS = 788  # per version
SPLITS = ("testmini", "MathVerse_MINI")


def _question_type(value: object, question: str, answer: str) -> str:
    """The row's `question_type`; a TSV without it: multiple choice when options are listed or the
    answer is a single capital letter."""
    if not is_missing(value):
        return text(value)
    letter = len(answer) == 1 and answer.isalpha() and answer.isupper()
    return "multi-choice" if letter or parse_inline_choices(question) else "free-form"


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=SPLITS, subfolders=("data",))
    items = []
    for file, row in read_tables(tables):
        image = row.data.get("image")
        ref = image_ref(image, [file.parent, file.parent / "images"], row.where, "image") if not is_missing(
            image) else None
        question = question_text(row.data.get("question"), ref is not None)
        answer = text(require(row, "answer")).strip()
        question_type = _question_type(row.data.get("question_type"), question, answer)
        choices = parse_inline_choices(question) if question_type == "multi-choice" else None
        items.append(Item(
            id=text(first_present(row, "sample_index", "index")), question=question,
            answer=reference_letter(answer, choices), image=ref, choices=choices, choices_in_question=True,
            meta={"question_type": question_type, "problem_version": row.data.get("problem_version")},
            where=row.where,
        ))
    return Loaded(unique_ids(items), tables.problems)


def check(items: list[Item]) -> list[str]:
    counts: dict[str, int] = {}
    for item in items:
        counts[str(item.meta["problem_version"])] = counts.get(str(item.meta["problem_version"]), 0) + 1
    short = {version: count for version, count in counts.items() if count != PROBLEMS}
    return [f"{count} rows of {version!r}, the release has {PROBLEMS}" for version, count in sorted(short.items())]


def correct(item: Item, answer: str | None) -> bool:
    if item.meta["question_type"] == "multi-choice":
        return scoring.letter_correct(answer, item.answer, item.choices)
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="mathverse", title="MathVerse", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "problem_version"), primary="accuracy",
    layout="AI4Math/MathVerse (the folder: testmini.parquet, or testmini.json with the images_version_* "
           "folders beside it), or VLMEvalKit's MathVerse_MINI*.tsv",
    judge="the official scorer (and VLMEvalKit's) asks GPT-4 to extract the answer and GPT-4 to judge it; "
          "ours reads the final-answer section and compares by rule",
    check=check,
)

"""MathVista (Lu et al., 2024). Released as HF `AI4Math/MathVista` (parquet per split: `testmini`
1,000 rows, `test` 5,141 without public answers) and as `data/testmini.json` in the GitHub repo
(an object keyed by pid). Fields: `pid`, `question`, `image` (a path such as `images/1.jpg`),
`decoded_image` (HF only), `choices` (a list, or null for free-form), `unit`, `precision`,
`answer` (the option *text* for multiple choice), `question_type` (`multi_choice` | `free_form`),
`answer_type` (`text` | `integer` | `float` | `list`), `metadata`, `query`.
"""

from __future__ import annotations

import math
from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    first_present,
    image_ref,
    lettered,
    read_table,
    require,
    text,
    unique_ids,
)

QUESTION_TYPES = ("multi_choice", "free_form")
ANSWER_TYPES = ("text", "integer", "float", "list")


def load(path: Path) -> list[Item]:
    roots = [path.parent if path.is_file() else path]
    items = []
    for row in read_table(path):
        question_type = text(require(row, "question_type"))
        answer_type = text(require(row, "answer_type"))
        if question_type not in QUESTION_TYPES or answer_type not in ANSWER_TYPES:
            raise BenchmarkDataError(f"{row.where}: question_type {question_type!r} / answer_type {answer_type!r}; "
                                     f"expected one of {QUESTION_TYPES} / {ANSWER_TYPES}")
        choices = [text(option) for option in row.data.get("choices") or []]
        if question_type == "multi_choice" and not choices:
            raise BenchmarkDataError(f"{row.where}: field 'choices' is empty for a multi_choice question")
        precision = row.data.get("precision")
        if isinstance(precision, float) and math.isnan(precision):
            precision = None
        metadata = row.data.get("metadata") or {}
        items.append(Item(
            id=text(first_present(row, "pid", "_key")),
            question=text(require(row, "question")),
            answer=text(require(row, "answer")),
            image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
            choices=lettered(choices) if choices else None,
            meta={"question_type": question_type, "answer_type": answer_type, "precision": precision,
                  "choices": choices, "task": metadata.get("task") if isinstance(metadata, dict) else None},
            where=row.where,
        ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    return scoring.mathvista_correct(answer, item.answer, question_type=item.meta["question_type"],
                                     answer_type=item.meta["answer_type"], precision=item.meta["precision"],
                                     choices=item.meta["choices"])


BENCHMARK = Benchmark(
    name="mathvista", title="MathVista", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "task"), primary="accuracy",
    layout="AI4Math/MathVista parquet (testmini split) or the GitHub data/testmini.json with images/ beside it",
    judge="the official scorer asks GPT-4 to extract the answer from the response, then applies the "
          "type/precision rule; we apply the same rule to the final-answer section",
)

"""MathVista (Lu et al., 2024), testmini (1,000 questions; `test`, 5,141, has no public answers).

Layouts read: HF `AI4Math/MathVista` (`data/testmini-*.parquet`, the folder or a file), the
GitHub `data/testmini.json` (an object keyed by pid, images in `data/images/`), and VLMEvalKit's
`MathVista_MINI.tsv`. Fields: `pid` (TSV: `index`), `question` (TSV: the full query, options
included), `image` (a path) / `decoded_image` (HF bytes) / base64 (TSV), `choices` (a list; TSV: a
Python literal), `precision`, `answer` (the option *text* for multiple choice), `question_type`
(`multi_choice` | `free_form`), `answer_type` (`text` | `integer` | `float` | `list`),
`metadata.task` (TSV: `task`).
"""

from __future__ import annotations

import math
from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    choice_list,
    first_present,
    image_ref,
    lettered,
    parse_inline_choices,
    present_name,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

QUESTION_TYPES = ("multi_choice", "free_form")
ANSWER_TYPES = ("text", "integer", "float", "list")
SPLITS = ("testmini", "annot_testmini", "MathVista_MINI", "test")


def _precision(value: object, answer: str, answer_type: str) -> float | None:
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    if isinstance(value, str) and value.strip() and value.strip().lower() != "nan":
        try:
            return float(value)
        except ValueError:
            pass
    if answer_type == "float":  # the TSV has no precision column: the reference's own decimals
        return float(len(answer.split(".", 1)[1])) if "." in answer else 0.0
    return None


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=SPLITS)
    items = []
    for file, row in read_tables(tables):
        roots = [file.parent, file.parent.parent]
        question_type = text(require(row, "question_type"))
        answer_type = text(require(row, "answer_type"))
        if question_type not in QUESTION_TYPES or answer_type not in ANSWER_TYPES:
            raise BenchmarkDataError(f"{row.where}: question_type {question_type!r} / answer_type {answer_type!r}; "
                                     f"expected one of {QUESTION_TYPES} / {ANSWER_TYPES}")
        choices = choice_list(row, "choices")
        if question_type == "multi_choice" and not choices:
            raise BenchmarkDataError(f"{row.where}: field 'choices' is empty for a multi_choice question")
        answer = text(require(row, "answer")).strip()
        metadata = row.data.get("metadata")
        task = row.data.get("task") or (metadata.get("task") if isinstance(metadata, dict) else None)
        question = text(require(row, "question"))
        items.append(Item(
            id=text(first_present(row, "pid", "_key", "index")), question=question, answer=answer,
            image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
            image_field=present_name(row, "decoded_image", "image"),
            choices=lettered(choices) if choices else None,
            choices_in_question=parse_inline_choices(question) is not None,
            meta={"question_type": question_type, "answer_type": answer_type,
                  "precision": _precision(row.data.get("precision"), answer, answer_type),
                  "choices": choices, "task": task},
            where=row.where,
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    return scoring.mathvista_correct(answer, item.answer, question_type=item.meta["question_type"],
                                     answer_type=item.meta["answer_type"], precision=item.meta["precision"],
                                     choices=item.meta["choices"])


BENCHMARK = Benchmark(
    name="mathvista", title="MathVista", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "task"), primary="accuracy",
    layout="AI4Math/MathVista (the folder, data/testmini-*.parquet), the GitHub data/testmini.json with "
           "data/images/, or VLMEvalKit's MathVista_MINI.tsv",
    judge="the official scorer asks GPT-4 to extract the answer from the response, then applies the "
          "type/precision rule; we apply the same rule to the final-answer section",
    sizes=(1000, 5141),
)

"""ChartMath, the project's synthetic chart task (`stepgrpo.data.chartmath`), and any table in the
same shape: `question`, `image` or `image_path` (relative to the file), `answer` or a reference
`solution` whose final-answer section holds it, optional `choices` (a dict of letters or a list)
and `id`.
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    image_ref,
    is_missing,
    lettered,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=("test",))
    items = []
    for index, (file, row) in enumerate(read_tables(tables)):
        question = text(require(row, "question"))
        answer = row.data.get("answer")
        if is_missing(answer):
            answer = scoring.final_answer(text(require(row, "solution")))
            if not answer:
                raise BenchmarkDataError(f"{row.where}: no 'answer' field and no final answer in 'solution'")
        choices = row.data.get("choices")
        if isinstance(choices, list):
            choices = lettered(choices)
        image = row.data.get("image") or row.data.get("image_path")
        items.append(Item(
            id=text(row.data.get("id") or index), question=question, answer=text(answer).strip(),
            image=image_ref(image, [file.parent], row.where, "image") if image else None,
            image_field="image" if row.data.get("image") else "image_path",
            choices={str(k): text(v) for k, v in choices.items()} if choices else None,
            choices_in_question="Choices:" in question,
            meta={"task_type": row.data.get("task_type")}, where=row.where,
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    if item.choices and item.answer in item.choices:
        return scoring.letter_correct(answer, item.answer, item.choices)
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="chartmath", title="ChartMath (synthetic)", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "task_type"), primary="accuracy",
    layout="test.jsonl written by `stepgrpo make-data chartmath` (images/ beside it), or any table of "
           "question / image(_path) / answer (or solution) / choices",
)

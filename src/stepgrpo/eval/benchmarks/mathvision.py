"""MATH-Vision (Wang et al., 2024): `test` (3,040 questions, the set VLMEvalKit's `MathVision`
and R1-VL's table use) and `testmini` (304). Layouts read: HF `MathLLMs/MathVision`
(`data/test-*.parquet`, `data/testmini-*.parquet`; `decoded_image` bytes), the GitHub clone of
`mathllm/MATH-V` (`data/test.jsonl` whose `"image": "images/1.jpg"` is relative to the repo root),
and VLMEvalKit's `MathVision.tsv` / `MathVision_MINI.tsv`. Fields: `id` (TSV: `index`),
`question`, `options` (TSV: `choices`, a Python literal; empty for free form), `image` /
`decoded_image`, `answer` (a letter when there are options), `level`, `subject` (TSV: `category`).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    Item,
    Loaded,
    choice_list,
    first_present,
    image_ref,
    lettered,
    present_name,
    reference_letter,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

LETTERS = frozenset("ABCDE")
SPLITS = ("test", "MathVision", "testmini", "MathVision_MINI")


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=SPLITS)
    items = []
    for file, row in read_tables(tables):
        roots = [file.parent, file.parent.parent]  # GitHub: data/test.jsonl, images/ at the repo root
        options = choice_list(row, "options", "choices")
        choices = lettered(options) if options else None
        items.append(Item(
            id=text(first_present(row, "id", "index")), question=text(require(row, "question")),
            answer=reference_letter(text(require(row, "answer")), choices),
            image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
            image_field=present_name(row, "decoded_image", "image"),
            choices=choices,
            meta={"subject": row.data.get("subject") or row.data.get("category"), "level": row.data.get("level")},
            where=row.where,
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    # Some questions draw their options in the figure: no option texts, a letter as the answer.
    if item.choices or item.answer in LETTERS:
        return scoring.letter_correct(answer, item.answer, item.choices)
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="mathvision", title="Math-Vision", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "subject"), primary="accuracy",
    layout="MathLLMs/MathVision (the folder, data/test-*.parquet), the MATH-V GitHub clone (data/test.jsonl, "
           "images/ at its root), or VLMEvalKit's MathVision.tsv",
    judge="VLMEvalKit's MathVision asks a GPT judge to extract the answer; the benchmark's own scorer is "
          "rule-based, as ours is",
    sizes=(3040, 304),
)

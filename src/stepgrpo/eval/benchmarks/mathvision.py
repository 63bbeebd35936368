"""MATH-Vision (Wang et al., 2024). HF `MathLLMs/MathVision` (parquet splits `test` 3,040 and
`testmini` 304; `images.zip`) and the GitHub `data/test.jsonl`. Fields: `id`, `question`,
`options` (a list of option texts, empty for free-form), `image` (a path such as
`images/1.jpg`), `decoded_image` (HF only), `answer` (a letter when there are options),
`solution`, `level`, `subject`.
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    Item,
    first_present,
    image_ref,
    lettered,
    read_table,
    require,
    text,
    unique_ids,
)

LETTERS = frozenset("ABCDE")


def load(path: Path) -> list[Item]:
    roots = [path.parent if path.is_file() else path]
    items = []
    for row in read_table(path):
        options = [text(option) for option in row.data.get("options") or []]
        items.append(Item(
            id=text(require(row, "id")), question=text(require(row, "question")),
            answer=text(require(row, "answer")).strip(),
            image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
            choices=lettered(options) if options else None,
            meta={"subject": row.data.get("subject"), "level": row.data.get("level")}, where=row.where,
        ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    # Some questions draw their options in the figure: no option texts, a letter as the answer.
    if item.choices or item.answer in LETTERS:
        return scoring.letter_correct(answer, item.answer, item.choices)
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="mathvision", title="Math-Vision", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "subject"), primary="accuracy",
    layout="MathLLMs/MathVision parquet (test or testmini) or data/test.jsonl with images/ beside it",
    judge="VLMEvalKit's MathVision asks a GPT judge to extract the answer; the benchmark's own scorer is "
          "rule-based, as ours is",
)

"""MMStar (Chen et al., 2024): 1,500 multiple-choice questions. HF `Lin-Chen/MMStar`
(`mmstar.parquet`, split `val`) has `index`, `question` (the options inline, "Options: A: ...,
B: ..."), `image`, `answer` (a letter), `category`, `l2_category`, `meta_info`; VLMEvalKit's
`MMStar.tsv` has the same with separate `A`..`D` columns and base64 images.
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    first_present,
    image_ref,
    is_missing,
    parse_inline_choices,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

SPLITS = ("mmstar", "val", "MMStar")


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=SPLITS)
    items = []
    for file, row in read_tables(tables):
        question = text(require(row, "question"))
        inline = parse_inline_choices(question)
        columns = {letter: text(row.data[letter]) for letter in "ABCDEF"
                   if not is_missing(row.data.get(letter)) and text(row.data[letter]).lower() != "nan"}
        choices = inline or columns
        if not choices:
            raise BenchmarkDataError(f"{row.where}: no options: neither 'Options:' in field 'question' "
                                     f"nor columns 'A'..'D'")
        answer = text(require(row, "answer")).strip().upper()
        if answer not in choices:
            raise BenchmarkDataError(f"{row.where}: field 'answer' is {answer!r}, "
                                     f"not one of the options {sorted(choices)}")
        items.append(Item(
            id=text(first_present(row, "index", "id")), question=question, answer=answer,
            image=image_ref(require(row, "image"), [file.parent], row.where, "image"),
            choices=choices, choices_in_question=inline is not None,
            meta={"category": row.data.get("category")}, where=row.where,
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    return scoring.letter_correct(answer, item.answer, item.choices)


BENCHMARK = Benchmark(
    name="mmstar", title="MMStar", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "category"), primary="accuracy",
    layout="Lin-Chen/MMStar (the folder or mmstar.parquet), or VLMEvalKit's MMStar.tsv",
    judge="VLMEvalKit matches the option by rule and asks a GPT judge when that fails; we use the rule only",
    sizes=(1500,),
)

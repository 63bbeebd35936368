"""MMStar (Chen et al., 2024). HF `Lin-Chen/MMStar` (`mmstar.parquet`, split `val`, 1,500 rows;
also `MMStar.tsv` with base64 images). Fields: `index`, `question` (the options are inline,
"Options: A: ..., B: ..., C: ..., D: ..."), `image`, `answer` (a letter), `category`,
`l2_category`, `meta_info`. A TSV with separate `A`..`D` columns is read too.
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    first_present,
    image_ref,
    parse_inline_choices,
    read_table,
    require,
    text,
    unique_ids,
)


def load(path: Path) -> list[Item]:
    roots = [path.parent if path.is_file() else path]
    items = []
    for row in read_table(path):
        question = text(require(row, "question"))
        inline = parse_inline_choices(question)
        columns = {letter: text(row.data[letter]) for letter in "ABCDEF"
                   if row.data.get(letter) not in (None, "") and text(row.data[letter]).lower() != "nan"}
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
            image=image_ref(require(row, "image"), roots, row.where, "image"),
            choices=choices, choices_in_question=inline is not None,
            meta={"category": row.data.get("category")}, where=row.where,
        ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    return scoring.letter_correct(answer, item.answer, item.choices)


BENCHMARK = Benchmark(
    name="mmstar", title="MMStar", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "category"), primary="accuracy",
    layout="Lin-Chen/MMStar mmstar.parquet (or MMStar.tsv)",
    judge="VLMEvalKit matches the option by rule and asks a GPT judge when that fails; we use the rule only",
)

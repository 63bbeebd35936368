"""DynaMath (Zou et al., 2025). 501 seed questions, each rendered as 10 variants. HF
`DynaMath/DynaMath_Sample` stores one split per variant (`sample_variant1` ... `sample_variant10`,
files `data/sample_variant<N>-*.parquet`) with fields `id`, `question`, `image`,
`decoded_image`, `ground_truth`, `answer_type` (`multiple choice` | `float` | free form),
`subject`, `knowledge_level`. VLMEvalKit's TSV has one table with `qid`, `varid`, `answer`.
Pass a folder of per-variant files or one table; rows are grouped by seed question (`qid`, or
`id` within per-variant files) for the worst-case accuracy.
"""

from __future__ import annotations

import re
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

FLOAT_TOLERANCE = 0.001  # DynaMath's own check for float answers
TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".tsv")


def _files(path: Path) -> list[Path]:
    if path.is_dir() and not (path / "dataset_info.json").exists():
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in TABLE_SUFFIXES),
                       key=lambda f: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", f.name)])
        if not files:
            raise BenchmarkDataError(f"{path}: no {', '.join(TABLE_SUFFIXES)} files in this folder")
        return files
    return [path]


def load(path: Path) -> list[Item]:
    items = []
    for file in _files(path):
        roots = [file.parent if file.is_file() else file]
        named = re.search(r"variant[_-]?(\d+)", file.name)
        for row in read_table(file):
            qid = text(first_present(row, "qid", "id"))
            variant = text(row.data["varid"]) if row.data.get("varid") is not None else (
                named.group(1) if named else "1")
            question = text(require(row, "question"))
            answer_type = text(require(row, "answer_type"))
            choices = parse_inline_choices(question) if answer_type == "multiple choice" else None
            items.append(Item(
                id=f"{qid}-v{variant}", question=question,
                answer=text(first_present(row, "ground_truth", "answer")).strip(),
                image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
                choices=choices, choices_in_question=True,
                meta={"qid": qid, "variant": variant, "answer_type": answer_type,
                      "subject": row.data.get("subject")},
                where=row.where,
            ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    kind = item.meta["answer_type"]
    if kind == "multiple choice":
        return scoring.letter_correct(answer, item.answer, item.choices)
    if kind == "float":
        value, wanted = scoring.to_number(answer), scoring.to_number(item.answer)
        return value is not None and wanted is not None and abs(value - wanted) <= FLOAT_TOLERANCE
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="dynamath", title="DynaMath", load=load, correct=correct, summarize=scoring.dynamath_summary,
    primary="average",
    layout="a folder of DynaMath_Sample per-variant parquet files (data/), or one table with qid/varid",
    judge="VLMEvalKit parses a JSON 'short answer' and asks a GPT judge when parsing fails; free-form "
          "answers there count when the answer is a substring of the reference, ours need an equivalent value",
)

"""DynaMath (Zou et al., 2025): 501 seed questions, each rendered as 10 variants (5,010 rows).
Layouts read: HF `DynaMath/DynaMath_Sample` at its current revision (`data/sample1-00000-of-00001.parquet`
... `data/sample10-00000-of-00010.parquet`, one file per variant; the "-of-N" is not a shard count),
at the paper-era revision (`data/sample_variant<N>-*.parquet`), the HF parquet export
(`default/sample_variant<N>/0000.parquet`), a `save_to_disk` dict of the ten splits, and
VLMEvalKit's `DynaMath.tsv` (one table, `qid` and `varid` columns). Fields: `id` (the seed
question; TSV: `qid`), `question` (multiple-choice options inline after "Choices:", "choice:" or
"Choice:"), `decoded_image` / `image`, `ground_truth` (TSV: `answer`), `answer_type`
(`multiple choice` | `float` | free form), `subject`, `knowledge_level`. The GitHub repo's
`dataset/dataset.json` (seed questions keyed by id, `image/imageN.png`) reads as one variant.
"""

from __future__ import annotations

import re
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
    present_name,
    reference_letter,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import (
    TABLE_SUFFIXES,
    is_saved_dataset,
    is_saved_dataset_dict,
    read_table,
    split_of,
)

FLOAT_TOLERANCE = 0.001  # DynaMath's own check for float answers
VARIANTS = 10
SEEDS = 501
_VARIANT = re.compile(r"(?:sample_?variant|sample|variant)[_-]?(\d+)$", re.IGNORECASE)


def _variant_of(path: Path) -> str | None:
    for name in (split_of(path)[0], path.parent.name):
        match = _VARIANT.search(name)
        if match:
            return str(int(match.group(1)))
    return None


def _files(path: Path) -> list[Path]:
    if path.is_file() or is_saved_dataset(path):
        return [path]
    if is_saved_dataset_dict(path):
        return sorted((child for child in path.iterdir() if is_saved_dataset(child)),
                      key=lambda p: int(_variant_of(p) or 0))
    if not path.is_dir():
        raise BenchmarkDataError(f"{path}: no such file or folder")
    files = [file for file in path.rglob("*")
             if file.is_file() and file.suffix.lower() in TABLE_SUFFIXES and file.stem != "dataset_info"
             and not any(part.startswith(".") for part in file.relative_to(path).parts)]
    if not files:
        raise BenchmarkDataError(f"{path}: no {', '.join(TABLE_SUFFIXES)} files in this folder or below it")
    return sorted(files, key=lambda f: (int(_variant_of(f) or 0), str(f)))


def load(path: Path) -> Loaded:
    items = []
    files = _files(path)
    for file in files:
        roots = [file.parent if file.is_file() else file]
        # One table without variant numbers (the GitHub `dataset/dataset.json` of seed questions) is variant 1.
        named = _variant_of(file) or ("1" if len(files) == 1 else None)
        for row in read_table(file):
            qid = text(first_present(row, "qid", "id", "_key"))
            varid = row.data.get("varid")
            variant = text(int(float(varid))) if not is_missing(varid) else named
            if variant is None:
                raise BenchmarkDataError(f"{row.where}: no 'varid' field and no variant number in the file "
                                         f"name (expected sample<N>, sample_variant<N> or a 'varid' column)")
            question = text(require(row, "question"))
            answer_type = text(require(row, "answer_type"))
            choices = parse_inline_choices(question) if answer_type == "multiple choice" else None
            answer = text(first_present(row, "ground_truth", "answer")).strip()
            items.append(Item(
                id=f"{qid}-v{variant}", question=question, answer=reference_letter(answer, choices),
                image=image_ref(first_present(row, "decoded_image", "image"), roots, row.where, "image"),
                image_field=present_name(row, "decoded_image", "image"),
                choices=choices, choices_in_question=True,
                meta={"qid": qid, "variant": variant, "answer_type": answer_type,
                      "subject": row.data.get("subject")},
                where=row.where,
            ))
    return Loaded(unique_ids(items))


def check(items: list[Item]) -> list[str]:
    variants: dict[str, set[str]] = {}
    for item in items:
        variants.setdefault(item.meta["qid"], set()).add(item.meta["variant"])
    short = sorted((qid for qid, seen in variants.items() if len(seen) < VARIANTS), key=str)
    if short:
        return [f"{len(short)} seed question(s) lack some of the {VARIANTS} variants (e.g. {short[0]}: "
                f"{len(variants[short[0]])}); worst-case accuracy needs all"]
    return []


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
    layout="DynaMath/DynaMath_Sample (the folder: data/sample<N>-*.parquet or data/sample_variant<N>-*.parquet, "
           "or the export default/sample_variant<N>/0000.parquet), or VLMEvalKit's DynaMath.tsv",
    judge="VLMEvalKit parses a JSON 'short answer' and asks a GPT judge when parsing fails; free-form "
          "answers there count when the answer is a substring of the reference, ours need an equivalent value",
    sizes=(SEEDS * VARIANTS,), check=check,
)

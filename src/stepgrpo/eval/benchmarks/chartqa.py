"""ChartQA (Masry et al., 2022), test: 1,250 human-written and 1,250 augmented questions; the
paper's number is relaxed accuracy over both together. Layouts read: the GitHub release
(`ChartQA Dataset/test/` with `test_human.json`, `test_augmented.json` — lists of `{"imgname",
"query", "label"}` — and the charts in `png/`; pass the repo, `ChartQA Dataset/` or `test/`), HF
`HuggingFaceM4/ChartQA` (`data/test-*.parquet`: `image`, `query`, `label` (a list),
`human_or_machine` 0/1), and VLMEvalKit's `ChartQA_TEST.tsv` (`index`, `question`, `answer`,
optional `split`).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    Record,
    first_present,
    image_ref,
    is_missing,
    present_name,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import Tables, find_tables, literal_list, read_tables

SPLITS = ("human", "augmented")
RELEASE_FILES = ("test_human.json", "test_augmented.json")


def _tables(path: Path) -> Tables:
    if path.is_dir():
        for folder in (path, path / "test", path / "ChartQA Dataset" / "test"):
            present = [folder / name for name in RELEASE_FILES if (folder / name).is_file()]
            if present:
                missing = [name for name in RELEASE_FILES if not (folder / name).is_file()]
                return Tables(present, "test", [f"{name} missing in {folder}" for name in missing])
    return find_tables(path, prefer=("test", "ChartQA_TEST"))


def _split(data: dict, file: Path) -> str:
    if not is_missing(data.get("human_or_machine")):
        return SPLITS[int(data["human_or_machine"])]
    named = str(data.get("split") or file.stem).lower()
    for split in SPLITS:
        if split in named or (split == "augmented" and "machine" in named):
            return split
    return "all"


def _labels(row_data: dict, where: str) -> list[str]:
    """The accepted answers: GitHub `label` (text), HF `label` (a list), TSV `answer` (text or a list literal)."""
    value = next((row_data[name] for name in ("label", "answer") if not is_missing(row_data.get(name))), None)
    if value is None:
        raise BenchmarkDataError(f"{where}: none of the fields ['label', 'answer'] is present and non-empty")
    labels = literal_list(value)
    labels = [text(label) for label in labels] if labels is not None else [text(value)]
    if not labels:
        raise BenchmarkDataError(f"{where}: field 'label' is empty")
    return labels


def load(path: Path) -> Loaded:
    tables = _tables(path)
    items = []
    counters: dict[str, int] = {}
    for file, row in read_tables(tables):
        roots = [file.parent / "png", file.parent]
        split = _split(row.data, file)
        number = counters[split] = counters.get(split, -1) + 1
        labels = _labels(row.data, row.where)
        index = row.data.get("index")
        items.append(Item(
            id=text(index) if not is_missing(index) else f"{split}-{number}",
            question=text(first_present(row, "query", "question")), answer=labels[0],
            image=image_ref(first_present(row, "image", "imgname"), roots, row.where, "imgname"),
            meta={"split": split, "labels": labels}, where=row.where,
            image_field=present_name(row, "image", "imgname"),
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    return any(scoring.relaxed_correct(answer, label) for label in item.meta["labels"])


def summarize(records: list[Record]) -> dict[str, float]:
    metrics = scoring.grouped_accuracy(records, "split")
    return {"relaxed_accuracy": metrics.pop("accuracy"), **metrics}


BENCHMARK = Benchmark(
    name="chartqa", title="ChartQA", load=load, correct=correct, summarize=summarize,
    primary="relaxed_accuracy",
    layout="the GitHub release (the repo, 'ChartQA Dataset/' or its test/ folder: test_human.json, "
           "test_augmented.json, png/), HuggingFaceM4/ChartQA (the folder, data/test-*.parquet), or "
           "VLMEvalKit's ChartQA_TEST.tsv",
    sizes=(2500,),
)

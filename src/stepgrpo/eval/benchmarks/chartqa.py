"""ChartQA (Masry et al., 2022). The GitHub release (`ChartQA Dataset/test/`) holds
`test_human.json` and `test_augmented.json` (1,250 questions each), lists of
`{"imgname", "query", "label"}`, with the charts in `png/`. HF `HuggingFaceM4/ChartQA` has
`image`, `query`, `label` (a list) and `human_or_machine` (0 human, 1 augmented). The paper's
number is relaxed accuracy over both sets together (the mean of the two, as they are equal in size).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Record,
    first_present,
    image_ref,
    read_table,
    require,
    text,
    unique_ids,
)

SPLITS = ("human", "augmented")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(path.glob("*_human.json")) + sorted(path.glob("*_augmented.json"))
        if found:
            return found
    return [path]


def _split(row_data: dict, file: Path) -> str:
    if "human_or_machine" in row_data:
        return SPLITS[int(row_data["human_or_machine"])]
    for split in SPLITS:
        if split in file.stem:
            return split
    return "all"


def load(path: Path) -> list[Item]:
    items = []
    for file in _files(path):
        folder = file.parent if file.is_file() else file
        roots = [folder / "png", folder]
        for index, row in enumerate(read_table(file)):
            labels = row.data.get("label")
            labels = [text(label) for label in labels] if isinstance(labels, list) else [text(require(row, "label"))]
            if not labels:
                raise BenchmarkDataError(f"{row.where}: field 'label' is empty")
            split = _split(row.data, file)
            items.append(Item(
                id=f"{split}-{index}", question=text(require(row, "query")), answer=labels[0],
                image=image_ref(first_present(row, "image", "imgname"), roots, row.where, "imgname"),
                meta={"split": split, "labels": labels}, where=row.where,
            ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    return any(scoring.relaxed_correct(answer, label) for label in item.meta["labels"])


def summarize(records: list[Record]) -> dict[str, float]:
    metrics = scoring.grouped_accuracy(records, "split")
    return {"relaxed_accuracy": metrics.pop("accuracy"), **metrics}


BENCHMARK = Benchmark(
    name="chartqa", title="ChartQA", load=load, correct=correct, summarize=summarize,
    primary="relaxed_accuracy",
    layout="the test/ folder of the GitHub release (test_human.json, test_augmented.json, png/), one of "
           "those files, or HuggingFaceM4/ChartQA test parquet",
)

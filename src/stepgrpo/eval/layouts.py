"""Finding a benchmark's tables in what the user downloaded, and reading their rows.

A download is one of: a single table file (parquet, JSONL, JSON, a VLMEvalKit TSV); a Hugging
Face dataset folder as `snapshot_download` / `git clone` leaves it (tables at the root or in
`data/`, parquet sharded as `<split>-00000-of-00004-<hash>.parquet`); or a `save_to_disk`
folder (one split, or a `DatasetDict` with one folder per split). A folder holding several
splits is narrowed to the split the benchmark's paper number uses; a sharded split must have
every shard. Parquet is read with pyarrow and images stay encoded bytes until generation, so
reading MME's 700 MB of shards holds no decoded pictures.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepgrpo.data.io import DataFileError, Row, iter_rows

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".tsv")
"""In order of preference when one split is there in several formats (MathVerse ships json and parquet)."""
_SHARD = re.compile(r"^(?P<split>.+?)-(?P<index>\d{5})-of-(?P<count>\d{5})(?:-[0-9a-f]+)?$")
_NOT_TABLES = {"dataset_info", "state", "dataset_dict", "README", "config"}


class BenchmarkDataError(ValueError):
    """A benchmark's files do not have a released layout; the message names file, row and field."""


@dataclass(frozen=True)
class Tables:
    """The table files (or saved-dataset folders) of one split, in order, and what is missing."""

    files: list[Path]
    split: str
    problems: list[str] = field(default_factory=list)


def split_of(path: Path) -> tuple[str, int | None, int | None]:
    """(split name, shard index, shard count) from a file name: `test-00001-of-00004-ab12.parquet`
    is shard 1 of 4 of `test`; `testmini.json` is all of `testmini`."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    match = _SHARD.match(stem)
    if match:
        return match["split"], int(match["index"]), int(match["count"])
    if path.is_file() and re.fullmatch(r"\d{4}", stem):  # the Hub's parquet export: <split>/0000.parquet
        return path.parent.name, int(stem), None
    return stem, None, None


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def is_saved_dataset_dict(path: Path) -> bool:
    return path.is_dir() and (path / "dataset_dict.json").is_file()


def table_files(folder: Path, subfolders: Sequence[str] = ("data",)) -> list[Path]:
    """Table files directly in `folder` and in its `subfolders`, and saved-dataset folders there."""
    found: list[Path] = []
    for where in (folder, *(folder / name for name in subfolders)):
        if not where.is_dir():
            continue
        for path in sorted(where.iterdir()):
            if path.name.startswith("."):
                continue
            table = path.is_file() and path.suffix.lower() in TABLE_SUFFIXES and path.stem not in _NOT_TABLES
            if table or is_saved_dataset(path):
                found.append(path)
    return found


def _choose(names: Sequence[str], prefer: Sequence[str], where: Path) -> str:
    if len(names) == 1:
        return names[0]
    lowered = {name.lower(): name for name in names}
    for wanted in prefer:
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
    raise BenchmarkDataError(f"{where}: holds several tables ({', '.join(sorted(names))}) and none is "
                      f"{' or '.join(prefer)}; pass the one to evaluate as --data")


def _format_rank(path: Path) -> int:
    return TABLE_SUFFIXES.index(path.suffix.lower()) if path.suffix.lower() in TABLE_SUFFIXES else -1


def group_shards(files: Sequence[Path]) -> dict[str, list[Path]]:
    """Files by split; a split present in several formats keeps the preferred one."""
    by_split: dict[str, list[Path]] = {}
    for path in files:
        by_split.setdefault(split_of(path)[0], []).append(path)
    chosen: dict[str, list[Path]] = {}
    for split, paths in by_split.items():
        best = min(_format_rank(path) for path in paths)
        chosen[split] = [path for path in paths if _format_rank(path) == best]
    return chosen


def shard_problems(split: str, paths: Sequence[Path]) -> list[str]:
    """Missing shards of a sharded split (a problem: partial data); two copies of one shard is an error."""
    shards = [(split_of(path)[1], split_of(path)[2], path) for path in paths]
    if len(paths) > 1 and any(index is None for index, _, _ in shards):
        raise BenchmarkDataError(f"{paths[0].parent}: split {split!r} has several files that are not numbered "
                          f"shards: {', '.join(path.name for path in paths)}")
    counts = {count for _, count, _ in shards if count is not None}
    if not counts:  # numbered files without a total (the export): 0 .. the highest must all be there
        indices = sorted(index for index, _, _ in shards if index is not None)
        gaps = sorted(set(range(indices[-1] + 1)) - set(indices)) if indices else []
        return [f"file(s) {', '.join(f'{i:04d}' for i in gaps)} of {split!r} missing in {paths[0].parent}"] if gaps \
            else []
    if len(counts) > 1:
        raise BenchmarkDataError(f"{paths[0].parent}: shards of {split!r} disagree on their count ({sorted(counts)})")
    count = counts.pop()
    seen: dict[int, Path] = {}
    for index, _, path in shards:
        assert index is not None
        if index in seen:
            raise BenchmarkDataError(f"{path}: a second copy of shard {index} of {split!r} (also {seen[index].name}); "
                              f"remove the stale one")
        seen[index] = path
    missing = [index for index in range(count) if index not in seen]
    if missing:
        return [f"shard(s) {', '.join(str(i) for i in missing)} of {count} of {split!r} missing "
                f"in {paths[0].parent}"]
    return []


def find_tables(path: Path, prefer: Sequence[str] = (), subfolders: Sequence[str] = ("data",)) -> Tables:
    """The tables to read for `path`: the file itself, a saved dataset, or the preferred split of
    a dataset folder (all its shards, sorted)."""
    if path.is_file():
        return Tables([path], split_of(path)[0])
    if is_saved_dataset(path):
        return Tables([path], path.name)
    if is_saved_dataset_dict(path):
        try:
            splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BenchmarkDataError(f"{path / 'dataset_dict.json'}: not a datasets dict file (no 'splits')") from None
        split = _choose(list(splits), prefer, path)
        return Tables([path / split], split)
    if not path.is_dir():
        raise BenchmarkDataError(f"{path}: no such file or folder")
    groups = group_shards(table_files(path, subfolders))
    if not groups:
        places = " or ".join([str(path), *(str(path / name) for name in subfolders)])
        raise BenchmarkDataError(f"{path}: no {', '.join(TABLE_SUFFIXES)} table in {places}")
    split = _choose(list(groups), prefer, path)
    files = sorted(groups[split], key=lambda p: (split_of(p)[1] or 0, p.name))
    return Tables(files, split, shard_problems(split, files))


# ---------------------------------------------------------------- reading rows


def read_table(path: Path) -> Iterator[Row]:
    """Rows of one table: parquet, JSONL, a JSON list or an object keyed by id (MathVista's
    `testmini.json`), a VLMEvalKit TSV, or a saved datasets folder."""
    suffix = path.suffix.lower() if path.is_file() else ""
    if suffix and path.stat().st_size == 0:  # an empty download: no rows (the caller says so)
        return
    if suffix == ".tsv":
        yield from read_tsv(path)
    elif suffix == ".parquet":
        yield from _read_parquet(path)
    elif path.is_dir():
        yield from _read_saved(path)
    else:
        if suffix == ".json":
            keyed = _keyed_json(path)
            if keyed is not None:
                yield from keyed
                return
        try:
            for row in iter_rows(path):
                if not isinstance(row, Row):
                    raise BenchmarkDataError(str(row))
                yield row
        except DataFileError as error:
            raise BenchmarkDataError(str(error)) from None


def read_tables(tables: Tables) -> Iterator[tuple[Path, Row]]:
    for path in tables.files:
        for row in read_table(path):
            yield path, row


def _keyed_json(path: Path) -> list[Row] | None:
    """`{"1": {...}, "2": {...}}` becomes rows with the key kept as `_key`; anything else is None."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BenchmarkDataError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})") from None
    if not (isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values())):
        return None
    return [Row(f"{path}[{key!r}]", {"_key": key, **row}) for key, row in value.items()]


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=256)
        index = 0
        for batch in batches:
            for data in batch.to_pylist():
                yield Row(f"{path}[{index}]", data)
                index += 1
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise BenchmarkDataError(f"{path}: cannot read as parquet: {error}") from None


def _read_saved(path: Path) -> Iterator[Row]:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises many types for unreadable input
        raise BenchmarkDataError(f"{path}: cannot read as a saved dataset: {error}") from None
    if isinstance(dataset, datasets.DatasetDict):
        raise BenchmarkDataError(f"{path}: holds splits {list(dataset)}; pass the folder of one split")
    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.Image):  # keep the encoded bytes; decode at generation time
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
    for index, data in enumerate(dataset):
        yield Row(f"{path}[{index}]", dict(data))


VLMEVALKIT_IMAGE_REF = 64
"""VLMEvalKit stores a repeated image once: another row's `image` cell holds that row's index
(a string of at most 64 characters) instead of the base64 text."""


def read_tsv(path: Path) -> Iterator[Row]:
    """A VLMEvalKit TSV: one row per question, `index` first, images as base64 (or as the index of
    the row holding the same image), list cells written as Python literals."""
    csv.field_size_limit(sys.maxsize)  # base64 images are far longer than csv's 128 KiB default
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [Row(f"{path}:{number}", dict(row))
                for number, row in enumerate(csv.DictReader(handle, delimiter="\t"), start=2)]
    images = {str(row.data.get("index")): row.data.get("image") for row in rows}
    for row in rows:
        image = row.data.get("image")
        if isinstance(image, str) and 0 < len(image) <= VLMEVALKIT_IMAGE_REF:
            target = images.get(image)
            if target is None or len(target) <= VLMEVALKIT_IMAGE_REF:
                raise BenchmarkDataError(f"{row.where}: field 'image' is {image!r}, which is neither base64 image "
                                  f"data nor the index of a row that has an image")
            row.data["image"] = target
        yield row


def literal_list(value: Any) -> list[Any] | None:
    """A list cell: a list, a Python/JSON literal as VLMEvalKit writes them ("['3/11', '8/11']"), or None."""
    if value is None or isinstance(value, float):  # NaN in a pandas-written table
        return None
    if isinstance(value, list | tuple):
        return list(value)
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        return list(parsed) if isinstance(parsed, list | tuple) else None
    return None

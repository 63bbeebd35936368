"""Reading and writing dataset rows in the formats users bring: JSONL, a JSON list, and anything
`datasets.load_dataset` reads (parquet, CSV and Arrow files, data folders, folders written by
`save_to_disk`, and for training sources (`DataSource`) hub dataset ids).

JSONL and JSON lists are read here, line by line, so that a malformed line is named by its number
and the other rows are still read; `datasets` reads the rest (its errors name the source).

Every row carries where it came from (`file:line` for JSONL, `file[index]` otherwise) so that an
error can name it, and a malformed row is reported as a `RowError` instead of stopping the read:
the caller decides whether to skip it. Writes follow `stepgrpo.outputs`: atomic (temporary file,
then rename, so a crash never leaves half a file behind), umask modes, no NaN in JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepgrpo.outputs import (
    OutputError,
    atomic_folder,
    atomic_text,
    check_output,
    dumps_json,
    make_parent,
)


@dataclass(frozen=True)
class Row:
    where: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RowError:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DataFileError(ValueError):
    """A whole file cannot be read (missing, unknown format, not JSON at all)."""


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv", ".tsv", ".arrow", ".txt")


def hub_offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"))


def looks_local(name: str) -> bool:
    """Whether a missing `name` can only be a local path (a hub id is `name` or `org/name`): it starts
    with `.`, `/` or `~`, has more than one `/`, a data-file suffix, or an `org` part that is a local
    folder; offline (HF_HUB_OFFLINE=1) every name is."""
    if hub_offline() or not HUB_ID.fullmatch(name) or name.lower().endswith(DATA_SUFFIXES):
        return True
    return "/" in name and Path(name.split("/")[0]).is_dir()


def offline_note(name: str) -> str:
    """Why a name that could be a hub id was taken for a path."""
    hub_like = HUB_ID.fullmatch(name) and not name.lower().endswith(DATA_SUFFIXES)
    return " (hub ids are not fetched with HF_HUB_OFFLINE=1)" if hub_like and hub_offline() else ""


class DataSource(str):
    """A training data location (a path or a hub dataset id) with the `load_dataset` configuration
    name and split to read; a `str`, so every reader that takes a path takes it."""

    config: str | None
    split: str

    def __new__(cls, value: str | Path, config: str | None = None, split: str = "train") -> DataSource:
        source = super().__new__(cls, str(value))
        source.config, source.split = config, split
        return source


DATASETS_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}
"""File suffixes read with `datasets.load_dataset(builder, data_files=...)`."""


def _kind(path: Path) -> str:
    if path.is_dir():
        names = {entry.name for entry in path.iterdir()}
        return "saved" if names & {"state.json", "dataset_dict.json"} else "folder"
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in DATASETS_BUILDERS:
        return DATASETS_BUILDERS[suffix]
    raise DataFileError(
        f"{path}: unknown data format {suffix!r} (use .jsonl, .json, .parquet, .csv, .arrow, a data folder or a "
        "saved datasets folder)"
    )


def iter_rows(path: str | Path) -> Iterator[Row | RowError]:
    """Yield each row of `path`, or a `RowError` for a row that is not a JSON object. A `DataSource`
    that is no local path is read as a hub dataset id (unless it can only be a path)."""
    source = path
    path = Path(path).expanduser()
    if not path.exists():
        if isinstance(source, DataSource) and not looks_local(str(source)):
            yield from _iter_datasets(source, "hub")
            return
        raise DataFileError(f"{source}: no such file or folder{offline_note(str(source))}")
    kind = _kind(path)
    if kind == "jsonl":
        yield from _iter_jsonl(path)
    elif kind == "json":
        yield from _iter_json_list(path)
    else:
        yield from _iter_datasets(source, kind)


def read_rows(path: str | Path) -> tuple[list[Row], list[RowError]]:
    rows: list[Row] = []
    errors: list[RowError] = []
    for item in iter_rows(path):
        (rows if isinstance(item, Row) else errors).append(item)
    return rows, errors


def _iter_jsonl(path: Path) -> Iterator[Row | RowError]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield RowError(where, f"not valid JSON ({error.msg} at column {error.colno})")
                continue
            if not isinstance(value, dict):
                yield RowError(where, f"expected a JSON object, got {type(value).__name__}")
                continue
            yield Row(where, value)


def _iter_json_list(path: Path) -> Iterator[Row | RowError]:
    try:
        value = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as error:
        raise DataFileError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise DataFileError(f"{path}: expected a JSON list of objects, got {type(value).__name__}")
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if isinstance(item, dict):
            yield Row(where, item)
        else:
            yield RowError(where, f"expected a JSON object, got {type(item).__name__}")


def _load(source: str | Path, kind: str) -> Any:
    """The rows of `source` as a `datasets.Dataset` (one split: `DataSource.split`, default train)."""
    import datasets

    config, split = getattr(source, "config", None), getattr(source, "split", "train")
    path = str(Path(source).expanduser()) if kind != "hub" else str(source)
    if kind == "saved":
        dataset = datasets.load_from_disk(path)
        if isinstance(dataset, datasets.DatasetDict):
            if split not in dataset:
                raise DataFileError(f"{source}: holds splits {list(dataset)}, not {split!r}; choose one with "
                                    "dataset_train_split (or pass the folder of one split)")
            dataset = dataset[split]
        return dataset
    if kind in DATASETS_BUILDERS.values():
        return datasets.load_dataset(kind, data_files=path, split="train")
    return datasets.load_dataset(path, name=config, split=split)  # a data folder or a hub id


def _iter_datasets(source: str | Path, kind: str) -> Iterator[Row | RowError]:
    import datasets

    try:
        dataset = _load(source, kind)
    except DataFileError:
        raise
    except Exception as error:  # datasets raises many types for unreadable input
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        what = "a hub dataset" if kind == "hub" else kind
        raise DataFileError(f"{source}: cannot read as {what} ({type(error).__name__}: {first})") from None
    for name, feature in dataset.features.items():  # images stay bytes or paths until training reads them
        if isinstance(feature, datasets.Image):
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
        elif isinstance(feature, datasets.List | datasets.Sequence) and isinstance(feature.feature, datasets.Image):
            dataset = dataset.cast_column(name, datasets.List(datasets.Image(decode=False)))
    for index, item in enumerate(dataset):
        yield Row(f"{source}[{index}]", dict(item))


def output_kind(path: str | Path) -> str:
    """The format `write_rows` uses for `path`: by suffix, or a datasets folder for a name without one."""
    path = Path(path)
    if not path.suffix:
        return "hf"
    kind = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"{path}: unknown output format {path.suffix!r} (use .jsonl, .json, .parquet, or a "
                          "name without a suffix for a datasets folder)")
    return kind


def is_datasets_folder(path: Path) -> bool:
    """Whether `path` is a folder `Dataset.save_to_disk` wrote and nothing else (safe to replace)."""
    names = {entry.name for entry in path.iterdir()}
    return {"dataset_info.json", "state.json"} <= names and all(
        name in {"dataset_info.json", "state.json"} or name.endswith(".arrow") for name in names)


def check_rows_output(path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> Path:
    """Before any work: `path` has a known format, is no input, and exists only with `overwrite`
    (a folder only if it is a datasets folder). Raises `OutputError` naming the problem."""
    output_kind(path)
    return check_output(path, inputs=inputs, overwrite=overwrite, replaceable=is_datasets_folder)


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically in the format named by `path`'s suffix; return how many were written.

    Replaces an existing file or datasets folder (commands call `check_rows_output` first, which
    asks for --overwrite); any other folder is refused. NaN and infinity are written as null."""
    path = Path(path)
    kind = output_kind(path)
    rows = list(rows)
    if path.is_dir() and not path.is_symlink() and not is_datasets_folder(path):
        raise OutputError(f"{path}: is an existing folder stepgrpo did not write; refusing to replace it")
    if kind in {"jsonl", "json"}:
        with atomic_text(path) as handle:
            if kind == "jsonl":
                for row in rows:
                    handle.write(dumps_json(row) + "\n")
            else:
                handle.write(dumps_json(rows, indent=1))
        return len(rows)
    import datasets

    columns = list(dict.fromkeys(key for row in rows for key in row))  # from_list reads the first row's keys only
    dataset = datasets.Dataset.from_list([{key: row.get(key) for key in columns} for row in rows])
    if kind == "parquet":
        make_parent(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            dataset.to_parquet(str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        with atomic_folder(path) as staging:
            dataset.save_to_disk(str(staging))
    return len(rows)

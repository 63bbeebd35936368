"""Reading and writing dataset rows in the formats users bring: JSONL, a JSON list, parquet, or a
folder saved by `datasets.Dataset.save_to_disk`.

Every row carries where it came from (`file:line` for JSONL, `file[index]` otherwise) so that an
error can name it, and a malformed row is reported as a `RowError` instead of stopping the read:
the caller decides whether to skip it. Writes follow `stepgrpo.outputs`: atomic (temporary file,
then rename, so a crash never leaves half a file behind), umask modes, no NaN in JSON.
"""

from __future__ import annotations

import json
import os
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


def _kind(path: Path) -> str:
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix == ".parquet":
        return "parquet"
    raise DataFileError(
        f"{path}: unknown data format {suffix!r} (use .jsonl, .json, .parquet or a saved datasets folder)"
    )


def iter_rows(path: str | Path) -> Iterator[Row | RowError]:
    """Yield each row of `path`, or a `RowError` for a row that is not a JSON object."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file or folder")
    kind = _kind(path)
    if kind == "jsonl":
        yield from _iter_jsonl(path)
    elif kind == "json":
        yield from _iter_json_list(path)
    else:
        yield from _iter_datasets(path, kind)


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


def _iter_datasets(path: Path, kind: str) -> Iterator[Row | RowError]:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path)) if kind == "hf" else datasets.Dataset.from_parquet(str(path))
    except Exception as error:  # datasets raises many types for unreadable input
        raise DataFileError(f"{path}: cannot read as {kind}: {error}") from None
    if isinstance(dataset, datasets.DatasetDict):
        raise DataFileError(f"{path}: holds splits {list(dataset)}; pass the folder of one split")
    for index, item in enumerate(dataset):
        yield Row(f"{path}[{index}]", dict(item))


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

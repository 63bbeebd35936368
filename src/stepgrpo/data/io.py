"""Reading and writing dataset rows in the formats users bring: JSONL, a JSON list, parquet, or a
folder saved by `datasets.Dataset.save_to_disk`.

Every row carries where it came from (`file:line` for JSONL, `file[index]` otherwise) so that an
error can name it, and a malformed row is reported as a `RowError` instead of stopping the read:
the caller decides whether to skip it. Writes are atomic (temporary file, then rename), so a
crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically in the format named by `path`'s suffix; return how many were written."""
    path = Path(path)
    kind = "hf" if not path.suffix else _kind_for_output(path)
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind in {"jsonl", "json"}:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                         prefix=f".{path.name}.", suffix=".tmp") as handle:
            try:
                if kind == "jsonl":
                    for row in rows:
                        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    json.dump(rows, handle, ensure_ascii=False, indent=1)
            except BaseException:
                handle.close()
                os.unlink(handle.name)
                raise
        os.replace(handle.name, path)
        return len(rows)
    import datasets

    columns = list(dict.fromkeys(key for row in rows for key in row))  # from_list reads the first row's keys only
    dataset = datasets.Dataset.from_list([{key: row.get(key) for key in columns} for row in rows])
    tmp = path.with_name(f".{path.name}.tmp")
    if kind == "parquet":
        dataset.to_parquet(str(tmp))
    else:
        dataset.save_to_disk(str(tmp))
    if path.is_dir():
        import shutil

        shutil.rmtree(path)
    os.replace(tmp, path)
    return len(rows)


def _kind_for_output(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}.get(suffix, "hf")

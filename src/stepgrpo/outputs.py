"""The output policy every command follows, in one place.

- An existing output is an error naming it, unless the user passed `--overwrite`; a folder is
  replaced only if stepgrpo could have written it (`replaceable`), never a folder of the user's.
- An output is never one of the command's inputs, nor a folder that holds one.
- Default output names are derived by appending to the input's full name, so two inputs never map
  to the same output (`rows.jsonl` → `rows.jsonl.scores.jsonl`, `rows.json` → `rows.json.scores.jsonl`).
- Places that cannot hold the output (under a regular file, a read-only or virtual file system)
  are found before any work starts, by creating and removing a probe file there.
- Writes are atomic (a temporary name beside the target, then a rename) and new files get the
  modes the umask allows, like any file the user's shell would create.
- JSON never holds NaN or infinity (not valid JSON): they are written as null.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


class OutputError(ValueError):
    """An output that must not or cannot be written; the message names it."""


def derived_output(source: str | Path, tag: str, suffix: str = ".jsonl") -> Path:
    """`SOURCE.<tag><suffix>` beside the source: distinct inputs always give distinct names."""
    source = Path(source)
    return source.with_name(f"{source.name}.{tag}{suffix}")


def _same_or_inside(inner: Path, outer: Path) -> bool:
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or outer in inner.parents


def check_output(path: str | Path, *, inputs: Iterable[str | Path] = (), overwrite: bool = False,
                 replaceable: Callable[[Path], bool] | None = None) -> Path:
    """Check, before any work, that the command may write `path`; raise `OutputError` if not.

    `replaceable(folder)` says whether an existing folder at `path` is one the command itself would
    write (a datasets folder, an index); other folders are refused even with `overwrite`."""
    path = Path(path)
    for source in inputs:
        source = Path(source)
        if not source.exists():
            continue
        if path.resolve() == source.resolve():
            raise OutputError(f"{path}: is the input; choose another output")
        if _same_or_inside(source, path):
            raise OutputError(f"{path}: holds the input {source}; choose another output")
        if source.is_dir() and _same_or_inside(path, source):
            raise OutputError(f"{path}: lies inside the input folder {source}; choose another output")
    if path.is_dir() and not path.is_symlink():
        if replaceable is None or not replaceable(path):
            raise OutputError(f"{path}: is an existing folder stepgrpo did not write; refusing to replace it "
                              "(even with --overwrite); choose another output")
        if not overwrite:
            raise OutputError(f"{path}: already exists; pass --overwrite to replace it")
    elif (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputError(f"{path}: already exists; pass --overwrite to replace it")
    check_writable_place(path)
    return path


def check_writable_place(path: str | Path) -> None:
    """Raise `OutputError` unless a file could be created where `path` goes (or its parents would)."""
    path = Path(path)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{path}: cannot be written: {ancestor} is a file, not a folder")
    probe = ancestor / f".stepgrpo-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as error:
        raise OutputError(f"{path}: cannot be written: {ancestor}: {error.strerror or error}") from None


def make_parent(path: str | Path) -> None:
    """Create `path`'s parent folders, as an `OutputError` naming `path` when that fails."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create its folder ({error.strerror or error})") from None


def _temporary_name(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}")


@contextmanager
def atomic_text(path: str | Path) -> Iterator[TextIO]:
    """Write a text file under a temporary name, then rename it onto `path`: readers (and a crash)
    see the old file or the whole new one. The file gets the umask's modes (0644 usually)."""
    path = Path(path)
    make_parent(path)
    tmp = _temporary_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    except OSError as error:
        raise OutputError(f"{path}: cannot be written ({error.strerror or error})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_text(path) as handle:
        handle.write(text)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh staging folder beside `path`; on success it replaces `path` in two renames (the
    old folder, if any, is moved aside first and removed only once the new one is in place)."""
    path = Path(path)
    make_parent(path)
    staging = _temporary_name(path)
    try:
        os.mkdir(staging)  # 0777 minus the umask, unlike tempfile.mkdtemp's 0700
    except OSError as error:
        raise OutputError(f"{path}: cannot be written ({error.strerror or error})") from None
    try:
        yield staging
        replace_path(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_path(new: Path, target: Path) -> None:
    """Move `new` onto `target`; an old folder at `target` is moved aside, then deleted."""
    if target.is_dir() and not target.is_symlink():
        old = _temporary_name(target, "old")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def dumps_json(value: Any, **kwargs: Any) -> str:
    """`json.dumps` that never writes NaN/Infinity (they become null) and keeps non-ASCII text."""
    kwargs.setdefault("ensure_ascii", False)
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)

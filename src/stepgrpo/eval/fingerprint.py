"""A cheap fingerprint of a model folder (or of benchmark files), so a prediction cache is never
reused for other weights: retraining into the same folder changes it, copying the folder does not.

Every file's relative name and size count; small files (configs, the safetensors index) are
hashed whole; large ones (the weights) on 16 evenly spaced 64 KiB windows, first and last
included, so the cost does not grow with the checkpoint. Retraining moves every tensor and so
every window; an edit confined to bytes between the windows of an unchanged-size file would go
unnoticed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SMALL = 4 * 2**20
WINDOW = 64 * 2**10
WINDOWS = 16


def _sample(path: Path, size: int) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= SMALL:
            digest.update(handle.read())
        else:
            for offset in sorted({(size - WINDOW) * n // (WINDOWS - 1) for n in range(WINDOWS)}):
                handle.seek(offset)
                digest.update(handle.read(WINDOW))
    return digest.digest()


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def fingerprint(path: Path, hashed: tuple[str, ...] | None = None) -> str:
    """A short hash of `path`'s content as described above (a file or a folder, recursively).
    With `hashed`, only files with those suffixes are read (a benchmark's tables, not its images)."""
    path = path.resolve()
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
    for file in files:
        size = file.stat().st_size
        name = file.name if file == path else file.relative_to(path).as_posix()
        digest.update(f"{name}\0{size}\0".encode())
        if hashed is None or file.suffix.lower() in hashed:
            digest.update(_sample(file, size))
    return digest.hexdigest()[:16]

"""Finding and validating knowledge-base sources: every record of every file is checked (schema,
unique id, readable image) before an index is written, and the errors name file, line and field."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from stepgrpo.data.io import DataFileError, read_rows
from stepgrpo.router.kb.base import KBError, KnowledgeBase
from stepgrpo.router.kb.records import SourceRecord
from stepgrpo.router.kb.types import KB_TYPES, kb_type

MAX_ERRORS_SHOWN = 20

Records = list[tuple[str, SourceRecord]]
"""Validated records with where each came from (`file:line`)."""


def source_files(source: Path, kind: str | None = None) -> dict[str, Path]:
    """The source file of each kind: a folder holding the standard names, or one file."""
    if not source.exists():
        raise KBError(f"{source}: no such file or folder")
    if source.is_dir():
        standard = {k: t.source_names[0] for k, t in KB_TYPES.items()}
        found = {k: source / name for k, name in standard.items() if (source / name).is_file()}
        if not found:
            raise KBError(f"{source}: holds none of {', '.join(standard.values())}")
        return found
    if kind is None:
        by_name = {name: k for k, t in KB_TYPES.items() for name in t.source_names}
        kind = by_name.get(source.name)
        if kind is None:
            raise KBError(f"{source}: cannot tell the knowledge-base kind from the name; pass --kind "
                          f"({', '.join(KB_TYPES)})")
    kb_type(kind)
    return {kind: source}


def read_sources(paths: dict[str, Path]) -> dict[str, Records]:
    """Every kind's validated records, or one `KBError` listing (up to 20 of) all the problems."""
    errors: list[str] = []
    records = {kind: read_records(kb_type(kind), path, errors) for kind, path in paths.items()}
    if errors:
        shown = "\n  ".join(errors[:MAX_ERRORS_SHOWN])
        hidden = len(errors) - MAX_ERRORS_SHOWN
        more = f"\n  ... and {hidden} more" if hidden > 0 else ""
        raise KBError(f"{len(errors)} invalid source record(s):\n  {shown}{more}")
    return records


def read_records(kb: type[KnowledgeBase], path: Path, errors: list[str]) -> Records:
    """The valid records of one source file; each problem is appended to `errors`."""
    try:
        rows, row_errors = read_rows(path)
    except DataFileError as error:
        raise KBError(str(error)) from None
    errors.extend(str(e) for e in row_errors)
    records: Records = []
    seen: dict[str, str] = {}
    for row in rows:
        try:
            record = kb.record_type.model_validate(row.data)
        except ValidationError as error:
            for item in error.errors():
                field = ".".join(str(part) for part in item["loc"]) or "record"
                message = item["msg"].removeprefix("Value error, ")
                errors.append(f"{row.where}: field {field!r}: {message}")
            continue
        if record.id in seen:
            errors.append(f"{row.where}: field 'id': {record.id!r} already used at {seen[record.id]}")
            continue
        seen[record.id] = row.where
        image = kb.source_image(record)
        if image is not None and not _image_ok(path.parent / image, row.where, errors):
            continue
        records.append((row.where, record))
    if not records and not errors:
        errors.append(f"{path}: no records")
    return records


def _image_ok(path: Path, where: str, errors: list[str]) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except FileNotFoundError:
        errors.append(f"{where}: field 'image': no such file {path}")
        return False
    except (UnidentifiedImageError, OSError) as error:
        errors.append(f"{where}: field 'image': {path} is not a readable image ({error})")
        return False
    return True

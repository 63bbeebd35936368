"""The knowledge-base types and their registry, `KB_TYPES`.

Adding a kind: a module with its record schema (a `records.SourceRecord` subclass) and a
`base.KnowledgeBase` subclass, plus one entry in `KB_TYPES`. (The R1-Router prompts name the
kinds a model may route to; a new kind also needs its label in `router/format.py`.)
"""

from __future__ import annotations

from stepgrpo.router.kb.base import Document, KBError, KnowledgeBase
from stepgrpo.router.kb.records import ImageTextRecord, TableRecord, TextRecord


class TextKB(KnowledgeBase):
    kind = "text"
    record_type = TextRecord
    source_names = ("text.jsonl",)

    @classmethod
    def document(cls, record: TextRecord, image: str | None = None) -> Document:
        return Document(record.id, f"{record.title}: {record.text}" if record.title else record.text)


class ImageTextKB(KnowledgeBase):
    """Searched by caption and text; the image itself is returned with the hit, not embedded."""

    kind = "image_text"
    record_type = ImageTextRecord
    source_names = ("image_text.jsonl",)

    @classmethod
    def document(cls, record: ImageTextRecord, image: str | None = None) -> Document:
        return Document(record.id, f"{record.caption} {record.text}".strip(), image)

    @classmethod
    def source_image(cls, record: ImageTextRecord) -> str | None:
        return record.image


class TableKB(KnowledgeBase):
    kind = "table"
    record_type = TableRecord
    source_names = ("tables.jsonl", "table.jsonl")

    @classmethod
    def document(cls, record: TableRecord, image: str | None = None) -> Document:
        return Document(record.id, flatten_table(record))


def flatten_table(table: TableRecord) -> str:
    """One line per part: the title (and caption), the header, then each row, cells joined by " | "."""
    title = f"Title: {table.title}" + (f" ({table.caption})" if table.caption else "")
    lines = [title, "Header: " + " | ".join(table.header)]
    lines += ["Row: " + " | ".join(str(cell) for cell in row) for row in table.rows]
    return "\n".join(lines)


KB_TYPES: dict[str, type[KnowledgeBase]] = {kb.kind: kb for kb in (TextKB, ImageTextKB, TableKB)}


def kb_type(kind: str) -> type[KnowledgeBase]:
    """The registered type of `kind`, or a `KBError` listing the kinds there are."""
    if kind not in KB_TYPES:
        raise KBError(f"unknown knowledge-base kind {kind!r} (allowed: {', '.join(KB_TYPES)})")
    return KB_TYPES[kind]

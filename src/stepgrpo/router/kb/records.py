"""Source-record schemas: one validated JSON object per line of a knowledge base's source file.

Each knowledge-base type (`types.py`) names its schema in `record_type`; `sources.py` validates
every line against it and reports errors by file, line and field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SourceRecord(BaseModel):
    """What every source record has: a non-empty `id`, unique within its file. Unknown fields are
    ignored, so sources written for other tools load."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: str = Field(min_length=1)


class TextRecord(SourceRecord):
    text: str = Field(min_length=1)
    title: str = ""


class ImageTextRecord(SourceRecord):
    image: str = Field(min_length=1)
    """Relative to the source file's folder; the image is copied into the index."""
    caption: str = Field(min_length=1)
    text: str = ""


class TableRecord(SourceRecord):
    title: str = Field(min_length=1)
    header: list[str] = Field(min_length=1)
    rows: list[list[str | int | float]] = Field(min_length=1)
    caption: str = ""

    @model_validator(mode="after")
    def _rows_match_header(self) -> TableRecord:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.header):
                raise ValueError(f"row {number} has {len(row)} cells, the header has {len(self.header)}")
        return self

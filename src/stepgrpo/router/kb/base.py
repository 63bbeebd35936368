"""What every knowledge base shares: its documents, the hits a search returns, the error type, and
`KnowledgeBase`, the base class of the knowledge-base types (`types.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from stepgrpo.router.kb.records import SourceRecord

if TYPE_CHECKING:
    from stepgrpo.router.kb.retrievers import Retriever


class KBError(ValueError):
    """A knowledge-base source or index that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    image: str | None = None
    """For image-text pairs: the image path relative to the knowledge base's folder in the index."""


@dataclass(frozen=True)
class Hit:
    id: str
    kb: str
    score: float
    text: str
    image: Path | None = None


class KnowledgeBase:
    """Documents of one kind plus the retriever that searches them.

    A type sets `kind` (its name in indexes, prompts and `--kind`), `record_type` (its source
    schema), `source_names` (source file names, the first one looked for in a source folder) and
    turns a validated record into a `Document`. Register it in `types.KB_TYPES`."""

    kind: ClassVar[str]
    record_type: ClassVar[type[SourceRecord]]
    source_names: ClassVar[tuple[str, ...]]

    def __init__(self, documents: list[Document], retriever: Retriever, root: Path | None = None) -> None:
        self.documents, self.retriever, self.root = documents, retriever, root

    def __len__(self) -> int:
        return len(self.documents)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top-k documents for `query`, best first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        hits = []
        for index, score in self.retriever.search(query, k):
            doc = self.documents[index]
            image = self.root / doc.image if doc.image and self.root else None
            hits.append(Hit(id=doc.id, kb=self.kind, score=score, text=doc.text, image=image))
        return hits

    @classmethod
    def document(cls, record: Any, image: str | None = None) -> Document:
        """The document a validated source record becomes (`image`: its copy in the index)."""
        raise NotImplementedError

    @classmethod
    def source_image(cls, record: Any) -> str | None:
        """The record's image, relative to its source file's folder: checked with Pillow and copied
        into the index. None (the default) for kinds without images."""
        return None

"""The retriever interface and its registry, `RETRIEVERS` (chosen by `--retriever` and recorded
in an index's manifest).

Adding a retriever: a module with a class that has the members of `Retriever`, plus one entry in
`RETRIEVERS`. `kb build --retriever`, the manifest check and index loading all read the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from stepgrpo.router.kb.base import KBError
from stepgrpo.router.kb.bm25 import BM25Retriever
from stepgrpo.router.kb.dense import DenseRetriever


class Retriever(Protocol):
    """The search index of one knowledge base: document numbers and scores for a query."""

    name: ClassVar[str]
    """Its `--retriever` value and the name of its folder inside each knowledge base of an index."""
    needs_model: ClassVar[bool]
    """Whether it needs an embedding model (`--embedding-model`)."""

    @classmethod
    def setup(cls, model: str | Path | None) -> Any:
        """What every knowledge base of one index shares (an embedder), loaded once per build or load."""
        ...

    @classmethod
    def build(cls, texts: list[str], shared: Any) -> Retriever: ...

    @classmethod
    def load(cls, folder: Path, shared: Any) -> Retriever: ...

    def save(self, folder: Path) -> None: ...

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """At most `k` (document number, score) pairs, best first."""
        ...


RETRIEVERS: dict[str, type[Retriever]] = {r.name: r for r in (BM25Retriever, DenseRetriever)}


def retriever_type(name: str) -> type[Retriever]:
    """The registered retriever called `name`, or a `KBError` listing the ones there are."""
    if name not in RETRIEVERS:
        raise KBError(f"unknown retriever {name!r} (allowed: {', '.join(RETRIEVERS)})")
    return RETRIEVERS[name]

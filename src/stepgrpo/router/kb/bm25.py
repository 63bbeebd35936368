"""BM25 retrieval (the default) with `bm25s`: no model, nothing to download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_TOKEN_PATTERN = r"(?u)\b\w+\b"  # bm25s's default drops one-character tokens such as single digits


class BM25Retriever:
    """Okapi BM25 (Lucene variant) from bm25s; documents with no query term are not returned."""

    name = "bm25"
    needs_model = False

    def __init__(self, model: Any) -> None:
        self._model = model

    @staticmethod
    def _tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(texts, token_pattern=_TOKEN_PATTERN, stopwords="en", return_ids=False,
                              show_progress=False)

    @classmethod
    def setup(cls, model: str | Path | None) -> None:
        return None

    @classmethod
    def build(cls, texts: list[str], shared: Any = None) -> BM25Retriever:
        import bm25s

        model = bm25s.BM25()
        model.index(cls._tokenize(texts), show_progress=len(texts) > 10_000)
        return cls(model)

    @classmethod
    def load(cls, folder: Path, shared: Any = None) -> BM25Retriever:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False))

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        tokens = self._tokenize([query])
        if not any(token in self._model.vocab_dict for token in tokens[0]):
            return []
        k = min(k, self._model.scores["num_docs"])
        documents, scores = self._model.retrieve(tokens, k=k, show_progress=False)
        return [(int(d), float(s)) for d, s in zip(documents[0], scores[0], strict=True) if s > 0]

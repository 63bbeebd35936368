"""Dense retrieval over a local sentence-transformers model (`stepgrpo.router.embed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class DenseRetriever:
    """Exact inner-product search over unit-norm embeddings of a local sentence-transformers model."""

    name = "dense"
    needs_model = True
    _FILE = "embeddings.npy"

    def __init__(self, embedder: Any, matrix: Any) -> None:
        self._embedder, self._matrix = embedder, matrix

    @classmethod
    def setup(cls, model: str | Path | None) -> Any:
        """The embedder (raises `embed.EmbeddingUnavailable` without sentence-transformers or the folder)."""
        from stepgrpo.router.embed import load_embedder

        return load_embedder(model)  # type: ignore[arg-type]  # `needs_model`: never None here

    @classmethod
    def build(cls, texts: list[str], shared: Any) -> DenseRetriever:
        from stepgrpo.router.embed import encode

        return cls(shared, encode(shared, texts))

    @classmethod
    def load(cls, folder: Path, shared: Any) -> DenseRetriever:
        import numpy as np

        return cls(shared, np.load(folder / cls._FILE, allow_pickle=False))

    def save(self, folder: Path) -> None:
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / self._FILE, self._matrix, allow_pickle=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        import numpy as np

        from stepgrpo.router.embed import encode

        scores = self._matrix @ encode(self._embedder, [query])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in top]

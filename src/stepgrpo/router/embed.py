"""Dense text embeddings through sentence-transformers, used only when the user has a local model.

sentence-transformers is an optional dependency (`pip install stepgrpo[embeddings]`); nothing here
downloads a model: pass a local folder (for example a saved `BAAI/bge-m3`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any


class EmbeddingUnavailable(RuntimeError):
    """Dense retrieval or similarity was asked for but cannot be provided."""


def load_embedder(model: str | Path) -> Any:
    """Load a local sentence-transformers model, with a clear error when that is impossible."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbeddingUnavailable(
            "dense retrieval needs sentence-transformers: pip install 'stepgrpo[embeddings]' "
            "(or use the default BM25 retriever)"
        ) from None
    if not Path(model).is_dir():
        raise EmbeddingUnavailable(f"{model}: not a local model folder (nothing is downloaded)")
    return SentenceTransformer(str(model), local_files_only=True)


def encode(embedder: Any, texts: list[str]) -> Any:
    """Unit-norm float32 embeddings, so that a dot product is the cosine (as the paper's BGE-M3)."""
    return embedder.encode(texts, normalize_embeddings=True, convert_to_numpy=True).astype("float32")


class EmbeddingSimilarity:
    """Cosine similarity of two texts under a local embedding model (the paper's query similarity)."""

    def __init__(self, model: str | Path) -> None:
        self._embedder = load_embedder(model)
        self._encode_one = lru_cache(maxsize=4096)(lambda text: encode(self._embedder, [text])[0])

    def __call__(self, query: str, reference: str) -> float:
        return float(self._encode_one(query) @ self._encode_one(reference))

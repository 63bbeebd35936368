"""Local knowledge bases for R1-Router: text passages, image-text pairs and tables.

Each knowledge base turns its source records into documents (the text the model is shown, and
for image-text pairs the image) and searches them with a registered retriever: BM25 from `bm25s`
(default) or a local dense embedder through sentence-transformers (`stepgrpo.router.embed`). The
paper's retrievers (BGE-M3 over Wikipedia, UniIR over M-BEIR, a DPR table encoder) are far too
large for this project's machines; the interface is the same: a query in, the top-k passages out.

Source format (one JSON object per line):

- `text.jsonl`: `{"id", "text", "title"?}`
- `image_text.jsonl`: `{"id", "image", "caption", "text"?}`, `image` relative to the file's folder;
  searched by caption and text (the image itself is returned, not embedded)
- `tables.jsonl`: `{"id", "title", "header": [...], "rows": [[...], ...], "caption"?}`,
  flattened to "Title: ...", "Header: a | b", "Row: x | y" lines

Modules: `records` (source schemas), `base` (documents, hits, `KnowledgeBase`), `types` (the kinds
and their registry `KB_TYPES`), `retrievers` (the `Retriever` interface and its registry
`RETRIEVERS`; `bm25`, `dense`), `sources` (finding and validating sources), `index` (building and
loading index folders, `KnowledgeBases`). A new kind or retriever is one module and one registry entry.
"""

from stepgrpo.router.kb.base import Document, Hit, KBError, KnowledgeBase
from stepgrpo.router.kb.bm25 import BM25Retriever
from stepgrpo.router.kb.dense import DenseRetriever
from stepgrpo.router.kb.index import (
    INDEX_FORMAT,
    INDEX_VERSION,
    MANIFEST,
    KnowledgeBases,
    _manifest_checksum,  # noqa: F401  (tests forge manifests with it)
    is_index_folder,
)
from stepgrpo.router.kb.records import ImageTextRecord, SourceRecord, TableRecord, TextRecord
from stepgrpo.router.kb.retrievers import RETRIEVERS, Retriever, retriever_type
from stepgrpo.router.kb.sources import source_files
from stepgrpo.router.kb.types import KB_TYPES, ImageTextKB, TableKB, TextKB, flatten_table, kb_type

__all__ = [
    "INDEX_FORMAT", "INDEX_VERSION", "KB_TYPES", "MANIFEST", "RETRIEVERS", "BM25Retriever", "DenseRetriever",
    "Document", "Hit", "ImageTextKB", "ImageTextRecord", "KBError", "KnowledgeBase", "KnowledgeBases",
    "Retriever", "SourceRecord", "TableKB", "TableRecord", "TextKB", "TextRecord", "flatten_table",
    "is_index_folder", "kb_type", "retriever_type", "source_files",
]

"""Local knowledge bases for R1-Router: text passages, image-text pairs and tables.

Each knowledge base turns its source records into documents (the text the model is shown, and
for image-text pairs the image) and searches them with BM25 from `bm25s` (default) or with a
local dense embedder through sentence-transformers (`stepgrpo.router.embed`). The paper's
retrievers (BGE-M3 over Wikipedia, UniIR over M-BEIR, a DPR table encoder) are far too large
for this project's machines; the interface is the same: a query in, the top-k passages out.

`KnowledgeBases.build` writes an index folder (documents, retriever files, copied images and a
manifest with version, kinds, document counts and checksums) atomically; `KnowledgeBases.load`
checks it and reloads it without re-indexing. Source format (one JSON object per line):

- `text.jsonl`: `{"id", "text", "title"?}`
- `image_text.jsonl`: `{"id", "image", "caption", "text"?}`, `image` relative to the file's folder;
  searched by caption and text (the image itself is returned, not embedded)
- `tables.jsonl`: `{"id", "title", "header": [...], "rows": [[...], ...], "caption"?}`,
  flattened to "Title: ...", "Header: a | b", "Row: x | y" lines
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepgrpo.data.io import DataFileError, read_rows
from stepgrpo.router.format import KB_KINDS

INDEX_FORMAT = "stepgrpo-router-kb"
INDEX_VERSION = 1
MANIFEST = "manifest.json"
SOURCE_FILES: dict[str, str] = {
    "text": "text.jsonl", "image_text": "image_text.jsonl", "table": "tables.jsonl",
}
_TOKEN_PATTERN = r"(?u)\b\w+\b"  # bm25s's default drops one-character tokens such as single digits
_MAX_ERRORS_SHOWN = 20


class KBError(ValueError):
    """A knowledge-base source or index that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    image: str | None = None
    """For image-text pairs: the image path relative to the index folder."""


@dataclass(frozen=True)
class Hit:
    id: str
    kb: str
    score: float
    text: str
    image: Path | None = None


# ---- source records ----


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: str = Field(min_length=1)


class TextRecord(_Record):
    text: str = Field(min_length=1)
    title: str = ""


class ImageTextRecord(_Record):
    image: str = Field(min_length=1)
    caption: str = Field(min_length=1)
    text: str = ""


class TableRecord(_Record):
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


# ---- retrievers ----


class Retriever(Protocol):
    name: str

    def search(self, query: str, k: int) -> list[tuple[int, float]]: ...

    def save(self, folder: Path) -> None: ...


class BM25Retriever:
    """Okapi BM25 (Lucene variant) from bm25s; documents with no query term are not returned."""

    name = "bm25"

    def __init__(self, model: Any) -> None:
        self._model = model

    @staticmethod
    def _tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(texts, token_pattern=_TOKEN_PATTERN, stopwords="en", return_ids=False,
                              show_progress=False)

    @classmethod
    def build(cls, texts: list[str]) -> BM25Retriever:
        import bm25s

        model = bm25s.BM25()
        model.index(cls._tokenize(texts), show_progress=len(texts) > 10_000)
        return cls(model)

    @classmethod
    def load(cls, folder: Path) -> BM25Retriever:
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


class DenseRetriever:
    """Exact inner-product search over unit-norm embeddings of a local sentence-transformers model."""

    name = "dense"
    _FILE = "embeddings.npy"

    def __init__(self, embedder: Any, matrix: Any) -> None:
        self._embedder, self._matrix = embedder, matrix

    @classmethod
    def build(cls, texts: list[str], embedder: Any) -> DenseRetriever:
        from stepgrpo.router.embed import encode

        return cls(embedder, encode(embedder, texts))

    @classmethod
    def load(cls, folder: Path, embedder: Any) -> DenseRetriever:
        import numpy as np

        return cls(embedder, np.load(folder / cls._FILE, allow_pickle=False))

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


# ---- knowledge bases ----


class KnowledgeBase:
    """Documents of one kind plus the retriever that searches them."""

    kind: ClassVar[str]
    record_type: ClassVar[type[_Record]]

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
        """The document a validated source record becomes."""
        raise NotImplementedError


class TextKB(KnowledgeBase):
    kind = "text"
    record_type = TextRecord

    @classmethod
    def document(cls, record: TextRecord, image: str | None = None) -> Document:
        return Document(record.id, f"{record.title}: {record.text}" if record.title else record.text)


class ImageTextKB(KnowledgeBase):
    kind = "image_text"
    record_type = ImageTextRecord

    @classmethod
    def document(cls, record: ImageTextRecord, image: str | None = None) -> Document:
        return Document(record.id, f"{record.caption} {record.text}".strip(), image)


class TableKB(KnowledgeBase):
    kind = "table"
    record_type = TableRecord

    @classmethod
    def document(cls, record: TableRecord, image: str | None = None) -> Document:
        return Document(record.id, flatten_table(record))


KB_TYPES: dict[str, type[KnowledgeBase]] = {kb.kind: kb for kb in (TextKB, ImageTextKB, TableKB)}


def flatten_table(table: TableRecord) -> str:
    """One line per part: the title (and caption), the header, then each row, cells joined by " | "."""
    title = f"Title: {table.title}" + (f" ({table.caption})" if table.caption else "")
    lines = [title, "Header: " + " | ".join(table.header)]
    lines += ["Row: " + " | ".join(str(cell) for cell in row) for row in table.rows]
    return "\n".join(lines)


# ---- building and loading indexes ----


def source_files(source: Path, kind: str | None = None) -> dict[str, Path]:
    """The source file of each kind: a folder holding the standard names, or one file."""
    if not source.exists():
        raise KBError(f"{source}: no such file or folder")
    if source.is_dir():
        found = {k: source / name for k, name in SOURCE_FILES.items() if (source / name).is_file()}
        if not found:
            raise KBError(f"{source}: holds none of {', '.join(SOURCE_FILES.values())}")
        return found
    if kind is None:
        by_name = {name: k for k, name in SOURCE_FILES.items()} | {"table.jsonl": "table"}
        kind = by_name.get(source.name)
        if kind is None:
            raise KBError(f"{source}: cannot tell the knowledge-base kind from the name; pass --kind "
                          f"({', '.join(KB_KINDS)})")
    if kind not in KB_TYPES:
        raise KBError(f"unknown knowledge-base kind {kind!r} (allowed: {', '.join(KB_KINDS)})")
    return {kind: source}


def _read_records(kind: str, path: Path, errors: list[str]) -> list[tuple[str, _Record]]:
    try:
        rows, row_errors = read_rows(path)
    except DataFileError as error:
        raise KBError(str(error)) from None
    errors.extend(str(e) for e in row_errors)
    records: list[tuple[str, _Record]] = []
    seen: dict[str, str] = {}
    for row in rows:
        try:
            record = KB_TYPES[kind].record_type.model_validate(row.data)
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
        if isinstance(record, ImageTextRecord) and not _image_ok(path.parent / record.image, row.where,
                                                                  errors):
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


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """SHA-256 over every manifest field but the checksum itself (which covers each file's hash)."""
    fields = {key: value for key, value in manifest.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class KnowledgeBases(Mapping[str, KnowledgeBase]):
    """The knowledge bases of one index folder, by kind."""

    def __init__(self, kbs: dict[str, KnowledgeBase], manifest: dict[str, Any], root: Path) -> None:
        self._kbs, self.manifest, self.root = kbs, manifest, root

    def __getitem__(self, kind: str) -> KnowledgeBase:
        if kind not in self._kbs:
            have = ", ".join(self._kbs)
            raise KeyError(f"{self.root}: no {kind!r} knowledge base (this index has: {have})")
        return self._kbs[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kbs)

    def __len__(self) -> int:
        return len(self._kbs)

    def search(self, query: str, kb: str, k: int = 5) -> list[Hit]:
        return self[kb].search(query, k)

    @classmethod
    def build(cls, source: str | Path, out: str | Path, *, kind: str | None = None, retriever: str = "bm25",
              embedding_model: str | Path | None = None, force: bool = False) -> KnowledgeBases:
        """Validate the source records, index them and write the index folder atomically."""
        source, out = Path(source), Path(out)
        if retriever not in {"bm25", "dense"}:
            raise KBError(f"unknown retriever {retriever!r} (allowed: bm25, dense)")
        if retriever == "dense" and embedding_model is None:
            raise KBError("the dense retriever needs --embedding-model, a local sentence-transformers folder")
        if out.exists() and not force:
            raise KBError(f"{out}: already exists; pass --force to replace it")
        errors: list[str] = []
        paths = source_files(source, kind)
        records = {k: _read_records(k, path, errors) for k, path in paths.items()}
        if errors:
            shown = "\n  ".join(errors[:_MAX_ERRORS_SHOWN])
            hidden = len(errors) - _MAX_ERRORS_SHOWN
            more = f"\n  ... and {hidden} more" if hidden > 0 else ""
            raise KBError(f"{len(errors)} invalid source record(s):\n  {shown}{more}")
        embedder = None
        if retriever == "dense":
            from stepgrpo.router.embed import load_embedder

            embedder = load_embedder(embedding_model)  # type: ignore[arg-type]
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            for k, items in records.items():
                cls._write_kb(tmp / k, KB_TYPES[k], items, paths[k].parent, retriever, embedder)
            cls._write_manifest(tmp, {k: len(v) for k, v in records.items()}, retriever, embedding_model)
            _replace_folder(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls.load(out, verify=False, embedder=embedder)

    @staticmethod
    def _write_kb(folder: Path, kb_type: type[KnowledgeBase], items: list[tuple[str, _Record]],
                  source_dir: Path, retriever: str, embedder: Any) -> None:
        folder.mkdir(parents=True)
        documents = []
        for number, (_, record) in enumerate(items):
            image = None
            if isinstance(record, ImageTextRecord):
                src = source_dir / record.image
                image = f"images/{number:06d}{src.suffix.lower()}"
                (folder / "images").mkdir(exist_ok=True)
                shutil.copyfile(src, folder / image)
            documents.append(kb_type.document(record, image))
        with (folder / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for doc in documents:
                handle.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
        texts = [doc.text for doc in documents]
        index = BM25Retriever.build(texts) if retriever == "bm25" else DenseRetriever.build(texts, embedder)
        index.save(folder / retriever)

    @staticmethod
    def _write_manifest(folder: Path, counts: dict[str, int], retriever: str,
                        embedding_model: str | Path | None) -> None:
        from importlib.metadata import version

        files = {
            path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in sorted(folder.rglob("*")) if path.is_file()
        }
        manifest = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "stepgrpo": version("stepgrpo"),
            "retriever": retriever,
            "embedding_model": str(embedding_model) if embedding_model else None,
            "kbs": {k: {"documents": n} for k, n in counts.items()},
            "files": files,
        }
        manifest["checksum"] = _manifest_checksum(manifest)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, *, verify: bool = True, embedder: Any = None,
             embedding_model: str | Path | None = None) -> KnowledgeBases:
        """Reload an index folder; `verify` checks every file's SHA-256 against the manifest."""
        folder = Path(folder)
        manifest = _read_manifest(folder)
        for name, info in manifest["files"].items():
            path = _confined(folder, name, folder / MANIFEST)
            if not path.is_file():
                raise KBError(f"{path}: missing from the index (listed in {folder / MANIFEST}); rebuild it")
            if path.stat().st_size != info["bytes"] or (verify and _sha256(path) != info["sha256"]):
                raise KBError(f"{path}: corrupt (does not match its checksum in {folder / MANIFEST}); "
                              "rebuild the index")
        if manifest["retriever"] == "dense" and embedder is None:
            from stepgrpo.router.embed import load_embedder

            embedder = load_embedder(embedding_model or manifest["embedding_model"])
        kbs = {}
        for kind, info in manifest["kbs"].items():
            kbs[kind] = _load_kb(folder / kind, KB_TYPES[kind], manifest["retriever"], embedder,
                                 info["documents"], set(manifest["files"]))
        return cls(kbs, manifest, folder)


def is_index_folder(folder: Path) -> bool:
    """Whether `folder` holds a knowledge-base index (so `kb build --overwrite` may replace it)."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("format") == INDEX_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _confined(root: Path, name: str, named_in: Path) -> Path:
    """`root / name`, refused (as a forged or damaged index) unless it stays inside `root`:
    an index must never make a reader open files elsewhere (`../../etc/...`, absolute paths, links)."""
    path = root / name
    inside = root.resolve()
    if Path(name).is_absolute() or (path.resolve() != inside and inside not in path.resolve().parents):
        raise KBError(f"{named_in}: path {name!r} leads outside the index folder {root}; refusing this index")
    return path


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise KBError(f"{path}: missing; {folder} is not a knowledge-base index "
                      "(build one with `stepgrpo kb build`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise KBError(f"{path}: corrupt manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        raise KBError(f"{path}: not a stepgrpo knowledge-base manifest")
    if manifest.get("version") != INDEX_VERSION:
        raise KBError(f"{path}: index version {manifest.get('version')!r}, this stepgrpo reads "
                      f"{INDEX_VERSION}; rebuild it")
    try:
        kbs = manifest["kbs"]
        if _manifest_checksum(manifest) != manifest["checksum"] or manifest["retriever"] not in {"bm25", "dense"}:
            raise ValueError
        if not set(kbs) <= set(KB_TYPES) or not all(isinstance(info["documents"], int) for info in kbs.values()):
            raise ValueError
        if not all(isinstance(name, str) and isinstance(info["bytes"], int) and isinstance(info["sha256"], str)
                   for name, info in manifest["files"].items()):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise KBError(f"{path}: corrupt manifest (fields or checksum do not agree); rebuild the index"
                      ) from None
    return manifest


def _load_kb(folder: Path, kb_type: type[KnowledgeBase], retriever: str, embedder: Any,
             count: int, listed: set[str]) -> KnowledgeBase:
    path = folder / "documents.jsonl"
    documents = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                document = Document(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as error:
                raise KBError(f"{path}:{number}: corrupt document ({error})") from None
            if document.image is not None:
                if not isinstance(document.image, str):
                    raise KBError(f"{path}:{number}: corrupt document (field 'image' is not a path)")
                _confined(folder, document.image, Path(f"{path}:{number}"))
                if f"{folder.name}/{Path(document.image).as_posix()}" not in listed:
                    raise KBError(f"{path}:{number}: image {document.image!r} is not a file of the index "
                                  f"(not in {folder.parent / MANIFEST}); refusing this index")
            documents.append(document)
    if len(documents) != count:
        raise KBError(f"{path}: holds {len(documents)} documents, the manifest says {count}")
    try:
        index: Retriever = (BM25Retriever.load(folder / "bm25") if retriever == "bm25"
                            else DenseRetriever.load(folder / "dense", embedder))
    except Exception as error:  # bm25s and numpy raise many types for damaged files
        raise KBError(f"{folder / retriever}: cannot load the {retriever} index ({error}); rebuild it"
                      ) from None
    return kb_type(documents, index, root=folder.resolve())


def _replace_folder(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an old folder only once the new one is in place."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)

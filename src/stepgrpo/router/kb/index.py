"""Index folders: `KnowledgeBases.build` writes one atomically, `KnowledgeBases.load` checks and
reloads it without re-indexing.

Layout: `manifest.json` (format, version, retriever, embedding model, kinds with document counts,
every file's size and SHA-256, and a checksum over the manifest), and per kind a folder with
`documents.jsonl`, the retriever's files (in a folder named after it) and `images/`. Every path an
index names must stay inside it: a forged or damaged index cannot make a reader open other files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stepgrpo.router.kb.base import Document, Hit, KBError, KnowledgeBase
from stepgrpo.router.kb.retrievers import RETRIEVERS, Retriever, retriever_type
from stepgrpo.router.kb.sources import Records, read_sources, source_files
from stepgrpo.router.kb.types import KB_TYPES

INDEX_FORMAT = "stepgrpo-router-kb"
INDEX_VERSION = 1
MANIFEST = "manifest.json"


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
        rtype = retriever_type(retriever)
        if rtype.needs_model and embedding_model is None:
            raise KBError(f"the {retriever} retriever needs --embedding-model, a local sentence-transformers folder")
        if out.exists() and not force:
            raise KBError(f"{out}: already exists; pass --force to replace it")
        paths = source_files(source, kind)
        records = read_sources(paths)
        shared = rtype.setup(embedding_model)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            for k, items in records.items():
                _write_kb(tmp / k, KB_TYPES[k], items, paths[k].parent, rtype, shared)
            _write_manifest(tmp, {k: len(v) for k, v in records.items()}, retriever, embedding_model)
            _replace_folder(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls._open(out, verify=False, shared=shared)

    @classmethod
    def load(cls, folder: str | Path, *, verify: bool = True,
             embedding_model: str | Path | None = None) -> KnowledgeBases:
        """Reload an index folder; `verify` checks every file's SHA-256 against the manifest.
        `embedding_model` overrides the one a dense index was built with (a moved folder)."""
        return cls._open(Path(folder), verify=verify, embedding_model=embedding_model)

    @classmethod
    def _open(cls, folder: Path, *, verify: bool, shared: Any = None,
              embedding_model: str | Path | None = None) -> KnowledgeBases:
        manifest = _read_manifest(folder)
        for name, info in manifest["files"].items():
            path = _confined(folder, name, folder / MANIFEST)
            if not path.is_file():
                raise KBError(f"{path}: missing from the index (listed in {folder / MANIFEST}); rebuild it")
            if path.stat().st_size != info["bytes"] or (verify and _sha256(path) != info["sha256"]):
                raise KBError(f"{path}: corrupt (does not match its checksum in {folder / MANIFEST}); "
                              "rebuild the index")
        rtype = RETRIEVERS[manifest["retriever"]]
        if shared is None:
            model = embedding_model or manifest["embedding_model"]
            if rtype.needs_model and not model:
                raise KBError(f"{folder / MANIFEST}: a {rtype.name} index without an embedding model; "
                              "pass one or rebuild the index")
            shared = rtype.setup(model)
        kbs = {kind: _load_kb(folder / kind, KB_TYPES[kind], rtype, shared, info["documents"], set(manifest["files"]))
               for kind, info in manifest["kbs"].items()}
        return cls(kbs, manifest, folder)


def is_index_folder(folder: Path) -> bool:
    """Whether `folder` holds a knowledge-base index (so `kb build --overwrite` may replace it)."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("format") == INDEX_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ---- writing ----


def _write_kb(folder: Path, kb_type: type[KnowledgeBase], items: Records, source_dir: Path,
              rtype: type[Retriever], shared: Any) -> None:
    folder.mkdir(parents=True)
    documents = []
    for number, (_, record) in enumerate(items):
        image = None
        source_image = kb_type.source_image(record)
        if source_image is not None:
            src = source_dir / source_image
            image = f"images/{number:06d}{src.suffix.lower()}"
            (folder / "images").mkdir(exist_ok=True)
            shutil.copyfile(src, folder / image)
        documents.append(kb_type.document(record, image))
    with (folder / "documents.jsonl").open("w", encoding="utf-8") as handle:
        for doc in documents:
            handle.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
    rtype.build([doc.text for doc in documents], shared).save(folder / rtype.name)


def _write_manifest(folder: Path, counts: dict[str, int], retriever: str, embedding_model: str | Path | None) -> None:
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


def _replace_folder(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an old folder only once the new one is in place."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


# ---- reading and checking ----


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """SHA-256 over every manifest field but the checksum itself (which covers each file's hash)."""
    fields = {key: value for key, value in manifest.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


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
        if _manifest_checksum(manifest) != manifest["checksum"] or not isinstance(manifest["retriever"], str):
            raise ValueError
        if not all(isinstance(kind, str) and isinstance(info["documents"], int) for kind, info in kbs.items()):
            raise ValueError
        if not all(isinstance(name, str) and isinstance(info["bytes"], int) and isinstance(info["sha256"], str)
                   for name, info in manifest["files"].items()):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise KBError(f"{path}: corrupt manifest (fields or checksum do not agree); rebuild the index"
                      ) from None
    if manifest["retriever"] not in RETRIEVERS:
        raise KBError(f"{path}: built with the {manifest['retriever']!r} retriever, which this stepgrpo does not "
                      f"have ({', '.join(RETRIEVERS)}); rebuild the index")
    if unknown := [kind for kind in manifest["kbs"] if kind not in KB_TYPES]:
        raise KBError(f"{path}: knowledge-base kind(s) {', '.join(map(repr, unknown))} that this stepgrpo does not "
                      f"have ({', '.join(KB_TYPES)}); rebuild the index")
    return manifest


def _load_kb(folder: Path, kb_type: type[KnowledgeBase], rtype: type[Retriever], shared: Any,
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
        index = rtype.load(folder / rtype.name, shared)
    except Exception as error:  # bm25s and numpy raise many types for damaged files
        raise KBError(f"{folder / rtype.name}: cannot load the {rtype.name} index ({error}); rebuild it"
                      ) from None
    return kb_type(documents, index, root=folder.resolve())

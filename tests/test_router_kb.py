"""Knowledge-base indexes: build/query round trips for each kind, reload, corrupt and missing files."""

import json

import pytest
from PIL import Image

from stepgrpo.router.kb import KBError, KnowledgeBases


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "source"
    (folder / "pics").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(folder / "pics" / "acme.png")
    Image.new("RGB", (8, 8), "blue").save(folder / "pics" / "vexa.png")
    write_jsonl(folder / "text.jsonl", [
        {"id": "ana", "title": "Ana Lorr", "text": "Ana Lorr was born in Zorvik."},
        {"id": "bex", "title": "Bex Tam", "text": "Bex Tam works as a pilot at Acme."},
        {"id": "acme", "text": "Acme is a company headquartered in Quell."},
    ])
    write_jsonl(folder / "image_text.jsonl", [
        {"id": "logo-acme", "image": "pics/acme.png", "caption": "The logo of Acme is a red circle."},
        {"id": "logo-vexa", "image": "pics/vexa.png", "caption": "The logo of Vexa is a blue square."},
    ])
    write_jsonl(folder / "tables.jsonl", [
        {"id": "north", "title": "Cities of Nord", "header": ["City", "Population"], "rows": [["Zorvik", 4820]]},
        {"id": "south", "title": "Cities of Sud", "header": ["City", "Population"], "rows": [["Quell", 7]]},
    ])
    return folder


def test_build_query_reload_each_kind(source, tmp_path):
    index = tmp_path / "index"
    built = KnowledgeBases.build(source, index)
    assert built.manifest["kbs"] == {"text": {"documents": 3}, "image_text": {"documents": 2},
                                     "table": {"documents": 2}}
    assert built.manifest["version"] == 1 and len(built.manifest["checksum"]) == 64

    kbs = KnowledgeBases.load(index)
    text_hits = kbs.search("Where was Ana Lorr born?", "text", k=5)
    assert text_hits[0].id == "ana" and text_hits[0].text == "Ana Lorr: Ana Lorr was born in Zorvik."
    assert all(hit.kb == "text" for hit in text_hits)

    image_hits = kbs.search("which company has a blue square logo", "image_text", k=1)
    assert [hit.id for hit in image_hits] == ["logo-vexa"]
    with Image.open(image_hits[0].image) as image:  # the copied image, inside the index folder
        assert image.getpixel((0, 0)) == (0, 0, 255)
    assert index in image_hits[0].image.parents or index.resolve() in image_hits[0].image.parents

    table_hits = kbs.search("population of Quell", "table", k=5)
    assert table_hits[0].id == "south"
    assert table_hits[0].text == "Title: Cities of Sud\nHeader: City | Population\nRow: Quell | 7"

    assert kbs.search("xyzzy", "text") == []  # no query term in the vocabulary: no hits
    with pytest.raises(KeyError, match="image"):
        KnowledgeBases.load(index)["images"]


def test_single_file_source_and_rebuild_guard(source, tmp_path):
    index = tmp_path / "tables-only"
    kbs = KnowledgeBases.build(source / "tables.jsonl", index)
    assert list(kbs) == ["table"]
    with pytest.raises(KBError, match="already exists"):
        KnowledgeBases.build(source / "tables.jsonl", index)
    other = tmp_path / "passages.jsonl"
    write_jsonl(other, [{"id": "x", "text": "Zorvik lies on a river."}])
    with pytest.raises(KBError, match="--kind"):
        KnowledgeBases.build(other, tmp_path / "other")
    kbs = KnowledgeBases.build(other, index, kind="text", force=True)
    assert list(kbs) == ["text"] and kbs.search("river", "text")[0].id == "x"


def test_invalid_sources_name_file_line_and_field(source, tmp_path):
    write_jsonl(source / "tables.jsonl", [
        {"id": "t", "title": "T", "header": ["a", "b"], "rows": [["1"]]},
        {"id": "u", "title": "U", "header": ["a"], "rows": [["1"]]},
        {"id": "u", "title": "U2", "header": ["a"], "rows": [["2"]]},
    ])
    write_jsonl(source / "image_text.jsonl", [{"id": "i", "image": "pics/missing.png", "caption": "c"}])
    (source / "text.jsonl").write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(KBError) as error:
        KnowledgeBases.build(source, tmp_path / "index")
    message = str(error.value)
    assert "text.jsonl:1: field 'text'" in message
    assert "text.jsonl:2: not valid JSON" in message
    assert "tables.jsonl:1: field 'record': row 1 has 1 cells, the header has 2" in message
    assert "tables.jsonl:3: field 'id': 'u' already used" in message
    assert "image_text.jsonl:1: field 'image': no such file" in message
    assert not (tmp_path / "index").exists()


def test_corrupt_or_missing_index_is_named(source, tmp_path):
    index = tmp_path / "index"
    KnowledgeBases.build(source, index)
    with pytest.raises(KBError, match=r"manifest\.json: missing"):
        KnowledgeBases.load(tmp_path)

    vocab = index / "table" / "bm25" / "vocab.index.json"
    vocab.write_bytes(vocab.read_bytes().replace(b"quell", b"qxell"))  # same size, other bytes
    with pytest.raises(KBError, match=r"table/bm25/vocab.index.json: corrupt"):
        KnowledgeBases.load(index)
    docs = index / "text" / "documents.jsonl"
    docs.unlink()
    with pytest.raises(KBError, match=r"text/documents.jsonl: missing"):
        KnowledgeBases.load(index, verify=False)

    manifest = index / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"documents": 3', '"documents": 4'))
    with pytest.raises(KBError, match="corrupt manifest"):
        KnowledgeBases.load(index)
    manifest.write_text("{not json")
    with pytest.raises(KBError, match=r"manifest\.json: corrupt manifest"):
        KnowledgeBases.load(index)


def test_dense_retriever_without_sentence_transformers_is_a_clear_error(source, tmp_path):
    from stepgrpo.router.embed import EmbeddingUnavailable

    with pytest.raises(KBError, match="--embedding-model"):
        KnowledgeBases.build(source, tmp_path / "dense", retriever="dense")
    with pytest.raises(EmbeddingUnavailable, match=r"sentence-transformers|not a local model folder"):
        KnowledgeBases.build(source, tmp_path / "dense", retriever="dense", embedding_model=tmp_path / "nope")


class SubstringRetriever:
    """A retriever written the way a newcomer would add one: a class with the `Retriever` members."""

    name = "substring"
    needs_model = False

    def __init__(self, texts):
        self.texts = texts

    @classmethod
    def setup(cls, model):
        return None

    @classmethod
    def build(cls, texts, shared):
        return cls([text.lower() for text in texts])

    @classmethod
    def load(cls, folder, shared):
        return cls(json.loads((folder / "texts.json").read_text(encoding="utf-8")))

    def save(self, folder):
        folder.mkdir(parents=True)
        (folder / "texts.json").write_text(json.dumps(self.texts), encoding="utf-8")

    def search(self, query, k):
        return [(i, 1.0) for i, text in enumerate(self.texts) if query.lower() in text][:k]


def test_a_registered_retriever_is_built_saved_checked_and_reloaded(source, tmp_path, monkeypatch):
    from stepgrpo.router.kb import RETRIEVERS

    with pytest.raises(KBError, match=r"unknown retriever 'substring' \(allowed: bm25, dense\)"):
        KnowledgeBases.build(source, tmp_path / "index", retriever="substring")
    monkeypatch.setitem(RETRIEVERS, "substring", SubstringRetriever)
    index = tmp_path / "index"
    KnowledgeBases.build(source, index, retriever="substring")
    assert (index / "text" / "substring" / "texts.json").is_file()
    kbs = KnowledgeBases.load(index)
    assert kbs.manifest["retriever"] == "substring"
    assert [hit.id for hit in kbs.search("born in zorvik", "text")] == ["ana"]
    texts = index / "table" / "substring" / "texts.json"
    texts.write_text(texts.read_text().replace("quell", "qxell"))
    with pytest.raises(KBError, match=r"table/substring/texts.json: corrupt"):
        KnowledgeBases.load(index)
    monkeypatch.delitem(RETRIEVERS, "substring")  # an index of a retriever this install does not have
    with pytest.raises(KBError, match=r"built with the 'substring' retriever, which this stepgrpo does not have"):
        KnowledgeBases.load(index, verify=False)


def test_a_registered_kind_is_read_validated_and_searched(tmp_path, monkeypatch):
    from pydantic import Field

    from stepgrpo.router.kb import KB_TYPES, Document, KnowledgeBase, SourceRecord

    class FormulaRecord(SourceRecord):
        name: str = Field(min_length=1)
        latex: str = Field(min_length=1)

    class FormulaKB(KnowledgeBase):
        kind = "formula"
        record_type = FormulaRecord
        source_names = ("formulas.jsonl",)

        @classmethod
        def document(cls, record, image=None):
            return Document(record.id, f"{record.name}: {record.latex}")

    monkeypatch.setitem(KB_TYPES, "formula", FormulaKB)
    folder = tmp_path / "source"
    folder.mkdir()
    write_jsonl(folder / "formulas.jsonl", [{"id": "euler", "name": "Euler identity", "latex": "e^{i pi} + 1 = 0"},
                                            {"id": "bad", "name": "no formula"}])
    with pytest.raises(KBError, match=r"formulas.jsonl:2: field 'latex'"):
        KnowledgeBases.build(folder, tmp_path / "index")
    write_jsonl(folder / "formulas.jsonl", [{"id": "euler", "name": "Euler identity", "latex": "e^{i pi} + 1 = 0"}])
    KnowledgeBases.build(folder, tmp_path / "index")
    hits = KnowledgeBases.load(tmp_path / "index").search("Euler identity", "formula")
    assert [(hit.id, hit.kb, hit.text) for hit in hits] == [("euler", "formula", "Euler identity: e^{i pi} + 1 = 0")]
    monkeypatch.delitem(KB_TYPES, "formula")
    with pytest.raises(KBError, match=r"kind\(s\) 'formula' that this stepgrpo does not have"):
        KnowledgeBases.load(tmp_path / "index")

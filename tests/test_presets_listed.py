"""Help texts and docs list what the registries hold: every shipped preset, knowledge-base kind and
retriever, so adding one (a preset file, a registry entry) cannot leave them stale."""

from pathlib import Path

from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.router.kb import KB_TYPES, RETRIEVERS
from stepgrpo.training.config import preset_names

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_train_help_and_training_docs_list_every_preset():
    presets = preset_names()
    assert {"r1vl-2b", "tiny", "router-onpolicy-tiny"} <= set(presets)
    assert ", ".join(presets) in _help("train")
    training = (DOCS / "training.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in training for name in presets), [p for p in presets if f"`{p}`" not in training]


def test_kb_commands_offer_every_registered_kind_and_retriever():
    build, query = _help("kb", "build"), _help("kb", "query")
    assert "|".join(KB_TYPES) in build and "|".join(KB_TYPES) in query
    assert "|".join(RETRIEVERS) in build

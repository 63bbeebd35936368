"""`stepgrpo demo --quick`: every stage of the embedded default runs for real (data, tiny model,
SFT, two GRPO variants, evaluation) and the report, its table and its plots are written."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.demo import SFT_LABEL, VARIANTS, DemoSettings


def test_quick_demo_writes_report_table_and_plots(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output

    report = json.loads((out / "report.json").read_text())
    labels = [SFT_LABEL, VARIANTS["stepgrpo"].label, VARIANTS["outcome"].label]
    assert list(report["results"]) == labels
    for metrics in report["results"].values():
        assert set(metrics) == {"accuracy", "key_step_fraction", "validity", "answered"}
        assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert report["wall_seconds"] > 0 and report["peak_memory_gb"] > 0

    markdown = (out / "report.md").read_text()
    for label in labels:
        assert f"| {label} |" in markdown
    for stage in report["timings"]:  # stage timings as a table, not a raw dict
        assert f"| {stage} | {report['timings'][stage]:.1f} |" in markdown
    assert "{'" not in markdown
    assert report["plots"], "no curve was plotted"
    for name in report["plots"]:
        assert f"]({name})" in markdown
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.width > 100
    # Both RL runs logged every step, with the monitored (weight 0) rewards present in each.
    for name in ("stepgrpo", "outcome"):
        history = json.loads((out / name / "trainer_state.json").read_text())["log_history"]
        steps = [entry for entry in history if "rewards/outcome_reward/mean" in entry]
        assert len(steps) == 2
        assert all("rewards/step_validity_reward/mean" in entry for entry in steps)
        assert (out / name / "final" / "config.json").is_file()


def test_outcome_variant_optimises_only_the_outcome():
    settings = VARIANTS["outcome"].settings
    weights = dict(zip(settings["reward_funcs"], settings["reward_weights"], strict=True))
    assert weights == {"outcome": 1.0, "step_validity": 0.0}
    stepgrpo = dict(zip(VARIANTS["stepgrpo"].settings["reward_funcs"], VARIANTS["stepgrpo"].settings["reward_weights"],
                        strict=True))
    assert stepgrpo == {"step_accuracy": 1.0, "step_validity": 1.0, "outcome": 0.0}


def test_unknown_variant_is_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match=r"unknown nope.*stepgrpo"):
        DemoSettings(variants=("nope",))
    result = CliRunner().invoke(app, ["demo", "--variants", "stepgrpo,nope"])
    assert result.exit_code == 2 and "nope" in result.output

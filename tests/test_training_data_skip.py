"""`--skip-bad-rows` for user rows: rows that cannot be used (a missing field, an image file that
is not there, no image among rows with one, not JSON) are left out, each named by file:line, and
counted, in `build_dataset` and in a real `stepgrpo sft` run; without it they stop the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_helpers import write_rows
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.data.training import TrainingDataError, build_dataset


def spoil(path: Path, changes: dict[int, str | dict]) -> Path:
    lines = path.read_text().splitlines()
    for index, change in changes.items():
        lines[index] = change if isinstance(change, str) else json.dumps({**json.loads(lines[index]), **change})
    path.write_text("\n".join(lines) + "\n")
    return path


def test_build_dataset_collects_bad_rows_when_asked(tmp_path):
    data = spoil(write_rows(tmp_path, count=6), {1: {"solution": ""}, 2: {"image_path": "gone.png"},
                                                 3: {"image_path": None}, 4: "[1, 2]"})
    with pytest.raises(TrainingDataError, match="4 of 6 rows cannot be used") as refused:
        build_dataset(data)
    skipped: list = []
    dataset = build_dataset(data, skipped=skipped)
    assert dataset["row"] == [f"{data}:1", f"{data}:6"]
    assert [str(problem) for problem in skipped] == [str(problem) for problem in refused.value.errors]
    assert {problem.where: problem.message.split(":")[0] for problem in skipped} == {
        f"{data}:2": "solution", f"{data}:3": "image", f"{data}:5": "expected a JSON object, got list",
        f"{data}:4": "image"}
    with pytest.raises(TrainingDataError, match="1 of 1 rows cannot be used"):
        build_dataset([{"question": "q"}], skipped=[])  # nothing usable is still an error


def test_sft_skip_bad_rows(tmp_path, tiny_lm_dir):
    data = spoil(write_rows(tmp_path / "data", count=4, image=False, reasoning=True), {2: {"reasoning": None}})
    args = ["sft", "--model", str(tiny_lm_dir), "--train_data", str(data), "--output_dir", str(tmp_path / "o"),
            "--max_steps", "1", "--per_device_train_batch_size", "2", "--report_to", "none"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and f"{data}:3: reasoning: missing or empty" in refused.output
    result = CliRunner().invoke(app, [*args, "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert f"skipped {data}:3: reasoning: missing or empty" in result.output
    assert f"--skip-bad-rows: skipped 1 row(s) that cannot be used, keeping 3 of {data}" in result.output
    assert (tmp_path / "o" / "final" / "config.json").is_file()

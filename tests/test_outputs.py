"""The shared output policy (stepgrpo.outputs) and the commands that follow it: nothing the
command did not create is deleted or overwritten, no output lands on an input, derived names
never collide, files get the umask's modes, JSON never holds NaN."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.data.io import check_rows_output, read_rows, write_rows
from stepgrpo.outputs import OutputError, check_output, derived_output, dumps_json, write_text_atomic

runner = CliRunner()
GOOD = {"completion": "### Step 1:\nx = 3\n### The final answer is: 3", "solution": "3", "key_steps": [["x = 3"]]}


def rows_file(path: Path, count: int = 2) -> Path:
    path.write_text("".join(json.dumps({**GOOD, "id": f"r{i}"}) + "\n" for i in range(count)))
    return path


def test_derived_names_never_collide_and_never_hit_the_input(tmp_path):
    inputs = ["my.v2.data.jsonl", "my.jsonl", "my.json", "my", "run.scores.jsonl"]
    outputs = [derived_output(tmp_path / name, "scores") for name in inputs]
    assert len(set(outputs)) == len(outputs)
    assert not {tmp_path / name for name in inputs} & set(outputs)
    assert outputs[0].name == "my.v2.data.jsonl.scores.jsonl"


def test_existing_outputs_inputs_and_foreign_folders_are_refused(tmp_path):
    source = rows_file(tmp_path / "rows.jsonl")
    existing = tmp_path / "old.jsonl"
    existing.write_text("keep me\n")
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        check_rows_output(existing)
    assert check_rows_output(existing, overwrite=True) == existing
    with pytest.raises(OutputError, match="is the input"):
        check_rows_output(source, inputs=[source], overwrite=True)
    with pytest.raises(OutputError, match="holds the input"):
        check_rows_output(tmp_path, inputs=[source], overwrite=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.png").write_bytes(b"not mine")
    with pytest.raises(OutputError, match="folder stepgrpo did not write"):
        check_rows_output(photos, overwrite=True)
    with pytest.raises(OutputError, match="folder stepgrpo did not write"):
        write_rows(photos, [{"a": 1}])
    assert (photos / "cat.png").read_bytes() == b"not mine"
    with pytest.raises(OutputError, match=r"unknown output format '\.txt'"):
        check_rows_output(tmp_path / "out.txt")
    with pytest.raises(OutputError, match=r"rows\.jsonl is a file, not a folder"):
        check_output(source / "out.jsonl")
    with pytest.raises(OutputError, match="cannot be written"):
        check_output(Path("/proc/stepgrpo/out.jsonl"))


def test_a_datasets_folder_written_by_us_is_replaced_with_overwrite(tmp_path):
    folder = tmp_path / "ds"
    write_rows(folder, [{"a": 1}, {"a": 2}])
    with pytest.raises(OutputError, match="already exists"):
        check_rows_output(folder)
    check_rows_output(folder, overwrite=True)
    write_rows(folder, [{"a": 3}])
    assert [row.data for row in read_rows(folder)[0]] == [{"a": 3}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging folder left behind


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_atomic_writes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        write_rows(tmp_path / "b.jsonl", [{"a": 1}])
        write_rows(tmp_path / "c", [{"a": 1}])
    finally:
        os.umask(old)
    for name in ("a.txt", "b.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o777 & ~umask


def test_nan_and_infinity_become_null(tmp_path):
    assert dumps_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5]}) == \
        '{"a": null, "b": [null, null, 1.5]}'
    write_rows(tmp_path / "x.jsonl", [{"v": float("nan")}])
    assert json.loads((tmp_path / "x.jsonl").read_text()) == {"v": None}


def test_score_never_replaces_what_it_did_not_write(tmp_path):
    source = rows_file(tmp_path / "run.scores.jsonl")
    before = source.read_text()
    result = runner.invoke(app, ["score", str(source)])
    assert result.exit_code == 0, result.output
    assert source.read_text() == before
    assert (tmp_path / "run.scores.jsonl.scores.jsonl").is_file()
    again = runner.invoke(app, ["score", str(source)])
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.output
    assert runner.invoke(app, ["score", str(source), "--overwrite"]).exit_code == 0

    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"png")
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(app, ["score", str(source), "--out", str(images), *extra])
        assert result.exit_code == 2 and "did not write" in result.output
    assert (images / "a.png").read_bytes() == b"png"
    result = runner.invoke(app, ["score", str(source), "--out", str(source)])
    assert result.exit_code == 2 and "is the input" in result.output
    result = runner.invoke(app, ["score", str(source), "--alpha", "nan", "--out", str(tmp_path / "n.jsonl")])
    assert result.exit_code == 2 and "--alpha: must be a finite number" in result.output
    assert not (tmp_path / "n.jsonl").exists()


def test_keysteps_and_router_data_follow_the_policy(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": "q", "solution": "### Step 1:\nx = 3\n### The final answer is: 3"}) + "\n")
    result = runner.invoke(app, ["keysteps", str(rows), str(tmp_path / "out.txt")])
    assert result.exit_code == 2 and "unknown output format '.txt'" in result.output
    assert not (tmp_path / "out.txt").exists()
    result = runner.invoke(app, ["keysteps", str(rows), str(rows)])
    assert result.exit_code == 2 and "is the input" in result.output
    existing = tmp_path / "keep"
    existing.mkdir()
    (existing / "notes.md").write_text("mine")
    result = runner.invoke(app, ["router-data", str(rows), str(existing)])
    assert result.exit_code != 0 and "did not write" in result.output
    assert (existing / "notes.md").read_text() == "mine"

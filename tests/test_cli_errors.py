"""One error path for every command: a user's mistake ends in one line naming the thing and a
non-zero exit, no traceback unless --debug or STEPGRPO_DEBUG=1; images are checked (opened and
decoded) before any model loads; a forged knowledge-base index cannot point outside itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from training_helpers import write_rows
from typer.testing import CliRunner

from stepgrpo.cli import app

runner = CliRunner()


def stepgrpo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepgrpo.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], result.stderr


@pytest.mark.parametrize("place", ["/proc/stepgrpo/out", "FILE/out"])
def test_unwritable_outputs_are_one_line(tmp_path, place):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"completion": "x", "solution": "3"}) + "\n")
    target = place.replace("FILE", str(rows))
    kb = tmp_path / "text.jsonl"
    kb.write_text(json.dumps({"id": "a", "text": "hello"}) + "\n")
    for args in (["score", str(rows), "--out", f"{target}.jsonl"], ["keysteps", str(rows), f"{target}.jsonl"],
                 ["make-data", "chartmath", target, "--train", "1", "--test", "1"], ["kb", "build", str(kb), target],
                 ["router-data", str(rows), f"{target}.jsonl"]):
        one_error_line(stepgrpo(*args), target)


def in_process_error(args: list[str], *needles: str) -> None:
    """The command fails with one `error:` line and no exception escaping it (so no traceback)."""
    result = runner.invoke(app, args)
    assert result.exit_code not in (0, None) and isinstance(result.exception, SystemExit), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], result.output


def test_missing_model_is_one_line(tmp_path):
    rows = write_rows(tmp_path / "data", count=2, image=False, reasoning=True)
    for command in ("train", "sft"):
        for model in (tmp_path / "no-model", tmp_path / "data"):  # absent; a folder without config.json
            in_process_error([command, "--model", str(model), "--train_data", str(rows),
                              "--output_dir", str(tmp_path / "o")], str(model))
        for place in ("/proc/stepgrpo/run", f"{rows}/run"):  # checked before the data and the model
            in_process_error([command, "--model", str(tmp_path / "no-model"), "--train_data", str(rows),
                              "--output_dir", place], place, "cannot be written")


def test_unexpected_errors_are_one_line_unless_debug(tmp_path, monkeypatch):
    import stepgrpo.cli.score as score_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(score_module, "_summary", broken)  # past the per-row handling, so nothing catches it
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"completion": "x", "solution": "3"}) + "\n")
    result = runner.invoke(app, ["score", str(rows)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: unexpected RuntimeError: boom (rerun with `stepgrpo --debug" in result.output
    assert "second line" not in result.output
    result = runner.invoke(app, ["--debug", "score", str(rows), "--overwrite"])
    assert isinstance(result.exception, RuntimeError)
    monkeypatch.setenv("STEPGRPO_DEBUG", "1")
    result = runner.invoke(app, ["score", str(rows), "--overwrite"])
    assert isinstance(result.exception, RuntimeError)


def test_typos_and_missing_files_are_named(tmp_path):
    in_process_error(["score", str(tmp_path / "rows.jsonl")], "rows.jsonl", "no such file")
    in_process_error(["train", "--preset", "tiny", "--train_data", "x.jsonl", "--outptu_dir", "o"],
                     "outptu_dir", "did you mean")
    in_process_error(["scroe", "x.jsonl"], "Did you mean 'score'")
    in_process_error(["keysteps", "a.jsonl", "b.jsonl", "--overwirte"], "--overwirte", "keysteps --help")


def corrupt_image_rows(folder: Path) -> Path:
    data = write_rows(folder, count=4, reasoning=True)
    (folder / "img1.png").write_bytes((folder / "img1.png").read_bytes()[:60])  # truncated PNG
    (folder / "img2.png").write_text("not an image")
    return data


@pytest.mark.parametrize("command", ["train", "sft"])
def test_corrupt_images_are_named_before_the_model_loads(tmp_path, command):
    data = corrupt_image_rows(tmp_path / "data")
    # a model folder that cannot load (its config.json is empty; a missing folder is refused earlier, with the
    # settings): reaching the image error proves no model was loaded first
    (tmp_path / "no-model").mkdir()
    (tmp_path / "no-model" / "config.json").write_text("{}")
    result = runner.invoke(app, [command, "--model", str(tmp_path / "no-model"), "--train_data", str(data),
                                 "--output_dir", str(tmp_path / "o"), "--report_to", "none"])
    assert result.exit_code == 2, result.output
    assert f"{data}:2: field 'image': " in result.output and "img1.png is not a readable image" in result.output
    assert f"{data}:3: field 'image': " in result.output and "img2.png" in result.output
    assert "no-model" not in result.output


def test_skip_bad_rows_trains_on_the_rest(tiny_vlm_dir, tmp_path):
    data = corrupt_image_rows(tmp_path / "data")
    result = runner.invoke(app, ["train", "--preset", "tiny", "--model", str(tiny_vlm_dir), "--train_data", str(data),
                                 "--max_steps", "1", "--max_completion_length", "4", "--per_device_train_batch_size",
                                 "4", "--num_generations", "2", "--output_dir", str(tmp_path / "o"),
                                 "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert "skipped 2 row(s) with unreadable images, training on 2" in result.output
    assert (tmp_path / "o" / "final" / "config.json").is_file()


def test_router_data_checks_images(tmp_path):
    (tmp_path / "good.png").write_bytes(_png())
    (tmp_path / "bad.png").write_bytes(_png()[:50])
    step = {"sub_question": "s", "kb": "text", "retrieved": ["p"], "sub_answer": "a"}
    lines = [json.dumps({"id": name, "question": "q", "answer": "a", "image": f"{name}.png", "steps": [step]})
             for name in ("good", "bad")]
    trajectories = tmp_path / "t.jsonl"
    trajectories.write_text("\n".join(lines) + "\n")
    out = tmp_path / "steps.jsonl"
    result = runner.invoke(app, ["router-data", str(trajectories), str(out)])
    assert result.exit_code == 1 and "trajectory bad: field 'image'" in result.output and not out.exists()
    result = runner.invoke(app, ["router-data", str(trajectories), str(out), "--skip-bad-rows"])
    assert result.exit_code == 1 and "skipped 1 problem(s)" in result.output
    assert {json.loads(line)["trajectory_id"] for line in out.read_text().splitlines()} == {"good"}


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_forged_index_paths_are_refused(tmp_path):
    from stepgrpo.router.kb import INDEX_VERSION, KBError, KnowledgeBases, _manifest_checksum

    source = tmp_path / "image_text.jsonl"
    (tmp_path / "logo.png").write_bytes(_png())
    source.write_text(json.dumps({"id": "a", "image": "logo.png", "caption": "a red logo"}) + "\n")
    index = tmp_path / "index"
    KnowledgeBases.build(source, index)
    assert KnowledgeBases.load(index).search("red logo", "image_text")[0].image.is_file()
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")

    def forge(document_image: str, extra_files: dict | None = None) -> None:
        documents = index / "image_text" / "documents.jsonl"
        doc = json.loads(documents.read_text())
        doc["image"] = document_image
        documents.write_text(json.dumps(doc) + "\n")
        manifest = json.loads((index / "manifest.json").read_text())
        manifest["files"]["image_text/documents.jsonl"] = {"bytes": documents.stat().st_size, "sha256": ""}
        manifest["files"].update(extra_files or {})
        manifest["version"] = INDEX_VERSION
        manifest["checksum"] = _manifest_checksum(manifest)
        (index / "manifest.json").write_text(json.dumps(manifest))

    forge("../../secret.txt")
    with pytest.raises(KBError, match="leads outside the index folder"):
        KnowledgeBases.load(index, verify=False)
    forge(str(secret))
    with pytest.raises(KBError, match="leads outside the index folder"):
        KnowledgeBases.load(index, verify=False)
    forge("images/000000.png", {"../secret.txt": {"bytes": 6, "sha256": ""}})
    with pytest.raises(KBError, match="leads outside the index folder"):
        KnowledgeBases.load(index, verify=False)
    result = runner.invoke(app, ["kb", "query", str(index), "red logo", "--no-verify"])
    assert result.exit_code == 1 and "leads outside the index folder" in result.output

"""Crash-proof resume: a real tiny run killed with SIGKILL in the middle of a checkpoint save,
then `--resume` (newest complete checkpoint, the broken one named and skipped), `--resume PATH`,
and the refusal of a fresh run into a folder holding checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from training_helpers import write_rows
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.training.checkpoints import CheckpointError, checkpoint_problem, choose_checkpoint

runner = CliRunner()
WORKER = Path(__file__).with_name("resume_worker.py")
CPU_RUN = ["--preset", "tiny", "--max_completion_length", "4", "--per_device_train_batch_size", "4",
           "--num_generations", "4", "--save_strategy", "steps", "--save_steps", "1", "--logging_steps", "1"]


def killed_run(model: Path, data: Path, out: Path, pause_at: int) -> None:
    """Train until the save of checkpoint-`pause_at` is half-way, then SIGKILL the process."""
    flag = out.parent / "saving.flag"
    env = {**os.environ, "PAUSE_AT_STEP": str(pause_at), "SAVING_FLAG": str(flag), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    args = [sys.executable, str(WORKER), "train", *CPU_RUN, "--model", str(model), "--train_data", str(data),
            "--max_steps", "6", "--output_dir", str(out)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not flag.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before its save at step {pause_at}: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run never reached its checkpoint save")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def test_killed_during_save_resumes_from_last_complete_checkpoint(tiny_lm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=4, image=False)
    out = tmp_path / "run"
    killed_run(tiny_lm_dir, data, out, pause_at=2)
    broken = out / "checkpoint-2"
    assert (broken / "model.safetensors").is_file() and not (broken / "trainer_state.json").exists()
    assert checkpoint_problem(out / "checkpoint-1", 1) is None
    assert "trainer_state.json" in checkpoint_problem(broken, 2)

    # a fresh run into that folder would mix two runs: refused, nothing touched
    common = [*CPU_RUN, "--model", str(tiny_lm_dir), "--train_data", str(data), "--output_dir", str(out)]
    fresh = runner.invoke(app, ["train", *common, "--max_steps", "3"])
    assert fresh.exit_code == 2
    assert "holds checkpoints of an earlier run" in fresh.output and "--resume" in fresh.output
    assert (out / "checkpoint-1").is_dir() and broken.is_dir()

    resumed = runner.invoke(app, ["train", *common, "--max_steps", "3", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming from {out / 'checkpoint-1'}" in resumed.output
    assert "skipped checkpoint-2: no trainer_state.json" in resumed.output
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [1, 2, 3]
    assert checkpoint_problem(broken, 2) is None  # re-saved completely by the resumed run
    assert (out / "final" / "model.safetensors").is_file()

    # --resume PATH picks one; an incomplete one is refused, naming why
    (out / "checkpoint-3" / "trainer_state.json").write_text('{"global_step": 3, "log_hist')
    chosen = runner.invoke(app, ["train", *common, "--max_steps", "3", "--resume", str(out / "checkpoint-3")])
    assert chosen.exit_code == 2 and "trainer_state.json is cut short" in chosen.output
    chosen = runner.invoke(app, ["train", *common, "--max_steps", "2", "--resume", "checkpoint-2"])
    assert chosen.exit_code == 0, chosen.output
    assert f"resuming from {out / 'checkpoint-2'}" in chosen.output

    # --overwrite starts over: the old checkpoints go, so no later --resume continues the old run
    again = runner.invoke(app, ["train", *common, "--max_steps", "1", "--overwrite"])
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert json.loads((out / "checkpoint-1" / "trainer_state.json").read_text())["max_steps"] == 1


def test_checkpoint_choice_names_each_skipped_folder(tmp_path):
    def complete(step: int) -> None:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))

    with pytest.raises(CheckpointError, match="no checkpoint-N folder"):
        choose_checkpoint(tmp_path)
    complete(2)
    complete(10)
    (tmp_path / "checkpoint-10" / "model.safetensors").unlink()
    (tmp_path / "checkpoint-12").mkdir()
    (tmp_path / "checkpoint-11").mkdir()
    (tmp_path / "checkpoint-11" / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    choice = choose_checkpoint(tmp_path)
    assert choice.path == tmp_path / "checkpoint-2"
    assert [(path.name, reason.split(" (")[0]) for path, reason in choice.skipped] == [
        ("checkpoint-12", "empty"), ("checkpoint-11", "trainer_state.json says step 4, the folder name says 11"),
        ("checkpoint-10", "no model weights")]
    (tmp_path / "checkpoint-2" / "trainer_state.json").unlink()
    with pytest.raises(CheckpointError, match=r"no complete checkpoint .*checkpoint-2: no trainer_state\.json"):
        choose_checkpoint(tmp_path)


@pytest.mark.parametrize("command", ["train", "sft"])
def test_fresh_run_over_an_earlier_final_model_is_refused(tiny_lm_dir, tmp_path, command):
    """Runs saved without checkpoints leave only final/: a new run must not replace it silently."""
    data = write_rows(tmp_path / "data", count=2, image=False, reasoning=True)
    out = tmp_path / "run"
    (out / "final").mkdir(parents=True)
    (out / "final" / "notes.txt").write_text("mine")
    args = [command, "--model", str(tiny_lm_dir), "--train_data", str(data), "--output_dir", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "holds the model of an earlier run" in refused.output
    assert (out / "final" / "notes.txt").read_text() == "mine"

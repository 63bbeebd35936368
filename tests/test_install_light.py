"""The base install (no `[train]` extra) is enough for the rewards and the torch-free commands.

Each check runs in a fresh interpreter in which the `[train]` modules cannot be imported
(`sys.modules[name] = None`), so a module-level `import torch` anywhere on these paths fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from stepgrpo.cli.app import TRAIN_MODULES

ROOT = Path(__file__).resolve().parents[1]
KEYSTEPS_FIXTURE = ROOT / "tests" / "fixtures" / "keysteps" / "references.jsonl"
BLOCKED = sorted(TRAIN_MODULES | {"huggingface_hub", "gguf", "scipy", "sklearn", "vllm", "deepspeed"})
SHIM = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
"""


def run_light(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", SHIM + code, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def stepgrpo_light(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_light('sys.argv = ["stepgrpo", *sys.argv[1:]]\nfrom stepgrpo.cli import main\nmain()', *args, cwd=cwd)


def test_help_without_training_dependencies(tmp_path: Path) -> None:
    code = """
from typer.testing import CliRunner
from stepgrpo.cli import app
for args in (["--help"], ["score", "--help"], ["keysteps", "--help"], ["eval", "--help"], ["make-data", "--help"]):
    result = CliRunner().invoke(app, args)
    print(result.exit_code, "Usage" in result.output, repr(result.exception))
"""
    result = run_light(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["0 True None"] * 5, result.stdout


def test_score_without_training_dependencies(tmp_path: Path) -> None:
    result = stepgrpo_light("score", "--example", "--out", "scores.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) > 2 and all(isinstance(row["reward"], float) for row in rows)


def test_keysteps_with_rules_without_training_dependencies(tmp_path: Path) -> None:
    result = stepgrpo_light("keysteps", str(KEYSTEPS_FIXTURE), "out.jsonl", "--extractor", "rules", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and all(row["key_steps"] for row in rows)


def test_reward_adapters_without_training_dependencies(tmp_path: Path) -> None:
    code = """
from stepgrpo.rewards import step_accuracy
from stepgrpo.rewards.trl import step_accuracy_reward
from stepgrpo.rewards.verl import compute_score, compute_score_batched
from stepgrpo.rewards import easyr1
text = "### Step 1:\\n4 + 7 = 11\\n### The final answer is: 11"
print(step_accuracy(text, "11", [["4 + 7 = 11"]]), step_accuracy_reward([text], solution=["11"])[0],
      compute_score("x", text, "11", {"key_steps": [["4 + 7 = 11"]]})["step_accuracy"],
      easyr1.compute_score([{"response": text, "response_length": 9, "ground_truth": "11"}])[0]["answer_correct"])
"""
    result = run_light(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1.1", "1.0", "1.1", "1.0"]


def test_a_training_command_names_the_extra_it_needs(tmp_path: Path) -> None:
    result = stepgrpo_light("make-tiny-model", "tiny", cwd=tmp_path)
    assert result.returncode == 2
    assert "pip install 'stepgrpo[train]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tiny").exists()


@pytest.mark.parametrize("extra", ["dependencies", "train"])
def test_the_base_install_lists_no_training_dependency(extra: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] if extra == "dependencies" else project["optional-dependencies"][extra]
    names = {req.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower() for req in requirements}
    if extra == "dependencies":
        assert not names & {"torch", "transformers", "trl", "accelerate", "datasets", "peft", "matplotlib"}
    else:
        assert {"torch", "transformers", "trl", "accelerate", "datasets", "peft"} <= names

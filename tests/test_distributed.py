"""`accelerate launch` with 2 CPU processes (gloo, configs/accelerate/ddp_cpu.yaml): two StepGRPO
steps, and every rank's rewards belong to its own completions after TRL gathers them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from training_helpers import expected_row_reward, write_rows

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_train_with_aligned_rewards(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=8)
    out = tmp_path / "out"
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1"}
    command = [str(accelerate), "launch", "--config_file", str(ROOT / "configs/accelerate/ddp_cpu.yaml"),
               "--main_process_port", str(free_port()), str(ROOT / "tests/distributed_worker.py"),
               str(tiny_vlm_dir), str(data), str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((out / f"rank{k}.json").read_text()) for k in range(2)]
    assert [r["world"] for r in ranks] == [2, 2] and [r["steps"] for r in ranks] == [2, 2]
    for step in range(2):
        rows = [set(r["rows_per_step"][step]) for r in ranks]
        assert all(len(s) == 1 for s in rows) and rows[0] != rows[1], "each rank holds one whole prompt group"
    zero, one = ranks
    assert zero["prompts"] == one["prompts"] and zero["rewards"] == one["rewards"]  # gathered, same on both
    assert len(zero["completions"]) == 8
    for prompt, completion, reward in zip(zero["prompts"], zero["completions"], zero["rewards"]["row_reward"],
                                          strict=True):
        assert reward == pytest.approx(expected_row_reward(json.loads(prompt), completion))
    total = torch.tensor([sum(v) for v in zip(*zero["rewards"].values(), strict=True)]).view(-1, 4)
    advantages = (total - total.mean(1, keepdim=True)) / (total.std(1, keepdim=True) + 1e-4)
    assert torch.allclose(torch.tensor(zero["advantages"]), advantages.flatten(), atol=1e-4)

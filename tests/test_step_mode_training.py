"""`advantage_mode: step` and EGSW inside real StepGRPO trainer steps on the tiny VLM, with gradient
accumulation and `num_iterations > 1`, for each of EGSW's entropy sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_distributed import ROOT, free_port
from test_trainer import make_args, make_trainer
from training_helpers import write_rows

from stepgrpo.advantages import step_rewards
from stepgrpo.training.config import ConfigError, StepGRPOConfig

SCHEDULES = {  # EGSW entropy source → batch schedule
    "loss": dict(per_device_train_batch_size=8),
    "rollout": dict(per_device_train_batch_size=4, gradient_accumulation_steps=2, num_iterations=2, max_steps=2),
    "extra": dict(per_device_train_batch_size=4, gradient_accumulation_steps=2),
}


def run(model_dir, data, tmp_path, name, **overrides):
    trainer = make_trainer(model_dir, data, make_args(tmp_path / name, max_completion_length=8, **overrides))
    batches = []
    generate = trainer._generate_and_score_completions

    def record(inputs):
        batches.append(generate(inputs))
        return batches[-1]

    trainer._generate_and_score_completions = record
    trainer.train()
    return trainer, batches


def grad_norms(trainer):
    return [entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry]


def test_step_mode_gives_per_token_advantages(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=6, reasoning=True)
    trainer, batches = run(tiny_vlm_dir, data, tmp_path, "step", advantage_mode="step", **SCHEDULES["rollout"])
    plain, plain_batches = run(tiny_vlm_dir, data, tmp_path, "plain", **SCHEDULES["rollout"])
    assert trainer.state.global_step == 2
    for batch, reference in zip(batches, plain_batches, strict=True):
        advantages, mask = batch["advantages"], batch["completion_mask"]
        assert advantages.shape == mask.shape and (advantages[mask == 0] == 0).all()
        texts = trainer._tokenizer.batch_decode(batch["completion_ids"], skip_special_tokens=True)
        spans = [step_rewards(text, "", None, weights={}).spans for text in texts]
        assert batch["step_index"].max().item() + 1 == max(map(len, spans))
        # a random policy writes no sections, so every completion of a group has the same single
        # span and reward: the step returns carry no signal and step mode is GRPO exactly
        assert torch.equal(batch["completion_ids"], reference["completion_ids"])
        assert torch.equal(advantages, reference["advantages"].unsqueeze(1) * mask)
    assert grad_norms(trainer) == pytest.approx(grad_norms(plain), rel=1e-5)


@pytest.mark.parametrize("source", sorted(SCHEDULES))
def test_egsw_neutral_settings_reproduce_grpo_and_real_ones_do_not(tiny_vlm_dir, tmp_path, source):
    data = write_rows(tmp_path / "data", count=6)
    schedule = SCHEDULES[source]
    plain, _ = run(tiny_vlm_dir, data, tmp_path, "plain", **schedule)
    neutral, _ = run(tiny_vlm_dir, data, tmp_path, "neutral", egsw={"alpha": 0.0, "temperature": 1e9}, **schedule)
    level = "step" if source == "rollout" else "sequence"
    weighted, _ = run(tiny_vlm_dir, data, tmp_path, "weighted",
                      egsw={"alpha": 1.0, "temperature": 0.3, "level": level}, **schedule)
    assert neutral._egsw_source == weighted._egsw_source == source
    assert grad_norms(neutral) == pytest.approx(grad_norms(plain), rel=1e-4)
    assert grad_norms(weighted) != pytest.approx(grad_norms(plain), rel=1e-3)
    logs = weighted.state.log_history[0]
    assert logs["egsw/weight_max"] > 1 > logs["egsw/weight_min"] > 0
    assert logs["egsw/entropy_mean"] == pytest.approx(logs["entropy"], rel=0.05)


@pytest.mark.parametrize(("egsw", "message"), [
    ({"alpha": -1}, "alpha >= 0"), ({"temperature": 0}, "temperature > 0"), ({"level": "token"}, "level 'token'"),
    ({"beta": 1}, "unknown keys"),
])
def test_bad_egsw_settings_are_refused(tmp_path, egsw, message):
    with pytest.raises(ConfigError, match=message):
        StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, egsw=egsw)


def test_two_processes_normalise_split_groups_together(tiny_vlm_dir, tmp_path):
    """Each group of 4 is split over 2 processes (2 completions each): EGSW's softmax must see the
    whole group, so both ranks compute the same weights."""
    data = write_rows(tmp_path / "data", count=4)
    out = tmp_path / "out"
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1"}
    command = [str(accelerate), "launch", "--config_file", str(ROOT / "configs/accelerate/ddp_cpu.yaml"),
               "--main_process_port", str(free_port()), str(ROOT / "tests/distributed_credit_worker.py"),
               str(tiny_vlm_dir), str(data), str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    zero, one = (json.loads((out / f"rank{k}.json").read_text()) for k in range(2))
    assert zero["steps"] == one["steps"] == 2 and zero["source"] == "loss"
    assert all(adv == mask and adv[0] == 2 for adv, mask in zero["shapes"] + one["shapes"])
    keys = ("egsw/weight_min", "egsw/weight_max")
    assert [[log[k] for k in keys] for log in zero["logs"]] == [[log[k] for k in keys] for log in one["logs"]]
    assert zero["logs"][0]["egsw/weight_max"] > 1

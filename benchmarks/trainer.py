"""StepGRPOTrainer vs plain TRL GRPOTrainer: seconds per optimizer step on the same tiny VLM, data,
config and reward functions, runs interleaved (A, B, C, ...) so machine noise hits all. Rows: plain
TRL, StepGRPO (`advantage_mode: sequence`) and StepGRPO with `advantage_mode: step`.

    .venv/bin/python benchmarks/trainer.py [--rounds 4] [--steps 6]

Step time is TRL's own `step_time` metric (generation, rewards and the update), first step of each
run dropped. Each round gives one ratio per mode (its median step time over plain TRL's in the same
round), so machine noise shows as the spread of the ratios across rounds. The last two lines are
`step_ratio=X.XX` (step mode over plain TRL; target <= 1.15) and, alone on the last line,
`ratio=X.XX` (sequence mode over plain TRL; target <= 1.05): medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_rows(folder: Path, count: int) -> Path:
    from PIL import Image

    rows = []
    for index in range(count):
        Image.new("RGB", (56, 56), (20 * index % 256, 80, 140)).save(folder / f"{index}.png")
        rows.append({"question": f"What is {index} + 4?", "image_path": f"{index}.png", "solution": str(index + 4),
                     "key_steps": {"Steps": [[f"{index} + 4 = {index + 4}"], "add"]}})
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_once(kind: str, model_dir: Path, data: Path, out: Path, steps: int) -> list[float]:
    from trl import GRPOConfig, GRPOTrainer

    from stepgrpo.data.training import build_dataset
    from stepgrpo.models import load_model_and_processor
    from stepgrpo.training.config import StepGRPOConfig
    from stepgrpo.training.trainer import StepGRPOTrainer, build_reward_funcs

    common = dict(output_dir=str(out), use_cpu=True, bf16=False, per_device_train_batch_size=8,
                  num_generations=4, max_completion_length=32, max_steps=steps, learning_rate=1e-4, beta=0.04,
                  loss_type="grpo", temperature=1.2, logging_steps=1, save_strategy="no", report_to="none",
                  activation_checkpointing=False, seed=0, disable_tqdm=True)
    step_args = StepGRPOConfig(**common, advantage_mode="step" if kind == "stepgrpo-step" else "sequence")
    rewards = build_reward_funcs(step_args)  # the same callables for both trainers
    model, processor = load_model_and_processor(model_dir)
    dataset = build_dataset(data)
    if kind == "trl":
        trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=GRPOConfig(**common), train_dataset=dataset,
                              processing_class=processor)
    else:
        trainer = StepGRPOTrainer(model=model, args=step_args, train_dataset=dataset, processing_class=processor,
                                  reward_funcs=rewards)
    trainer.train()
    return [entry["step_time"] for entry in trainer.state.log_history if "step_time" in entry][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=6)
    options = parser.parse_args()
    logging.disable(logging.WARNING)
    from stepgrpo.models import build_tiny_model

    kinds = ("trl", "stepgrpo", "stepgrpo-step")
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_tiny_model(root / "tiny", arch="qwen2-vl")
        data = write_rows(root, 16)
        started = time.perf_counter()
        for round_index in range(options.rounds):
            order = kinds[round_index % len(kinds):] + kinds[:round_index % len(kinds)]
            rounds.append({kind: statistics.median(run_once(kind, model_dir, data, root / f"{kind}{round_index}",
                                                            options.steps)) for kind in order})
    for kind in kinds:
        per_round = ", ".join(f"{times[kind]:.3f}" for times in rounds)
        print(f"{kind:13s} {statistics.median(times[kind] for times in rounds):.3f} s/step "
              f"(median over rounds; per round: {per_round})")
    print(f"wall {time.perf_counter() - started:.0f} s, {options.rounds} interleaved rounds of {options.steps} steps")
    for kind in ("stepgrpo-step", "stepgrpo"):
        ratios = [times[kind] / times["trl"] for times in rounds]
        print(f"{kind} / trl per round: " + ", ".join(f"{value:.2f}" for value in ratios)
              + f" (spread {min(ratios):.2f}-{max(ratios):.2f})")
    for label, kind in (("step_ratio", "stepgrpo-step"), ("ratio", "stepgrpo")):
        print(f"{label}={statistics.median(times[kind] / times['trl'] for times in rounds):.2f}")

if __name__ == "__main__":
    main()

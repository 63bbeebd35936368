"""Run by tests/test_distributed.py under `accelerate launch` (2 CPU processes, gloo): two StepGRPO
steps on the tiny VLM; each rank writes what it saw to OUT/rank<k>.json."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from training_helpers import row_reward

from stepgrpo.data.training import build_dataset
from stepgrpo.models import load_model_and_processor
from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.trainer import StepGRPOTrainer, build_reward_funcs


def main(model_dir: str, data: str, out: str) -> None:
    args = StepGRPOConfig(output_dir=out, use_cpu=True, bf16=False, per_device_train_batch_size=4,
                          max_completion_length=8, max_steps=2, learning_rate=1e-3, logging_steps=1,
                          save_strategy="no", report_to="none", activation_checkpointing=False, seed=0)
    model, processor = load_model_and_processor(model_dir)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=build_dataset(data),
                              processing_class=processor, reward_funcs=[*build_reward_funcs(args), row_reward])
    seen = []
    original = trainer._calculate_rewards

    def record(inputs, prompts, completions, completion_ids_list):
        seen.append([x["row"] for x in inputs])
        return original(inputs, prompts, completions, completion_ids_list)

    trainer._calculate_rewards = record
    trainer.train()
    logs = trainer._logs
    report = {
        "rank": trainer.accelerator.process_index,
        "world": trainer.accelerator.num_processes,
        "rows_per_step": seen,
        "steps": trainer.state.global_step,
        "prompts": [json.dumps(p, default=lambda _: "<image>") for p in logs["prompt"]],
        "completions": [c[0]["content"] for c in logs["completion"]],
        "rewards": {name: list(values) for name, values in logs["rewards"].items()},
        "advantages": list(logs["advantages"]),
    }
    Path(out, f"rank{report['rank']}.json").write_text(json.dumps(report))
    # Tear gloo down before the interpreter exits: left to atexit, its threads can abort the process (SIGABRT).
    trainer.accelerator.end_training()


if __name__ == "__main__":
    main(*sys.argv[1:4])
    # The report is written; skip interpreter teardown, where gloo's threads still abort now and then
    # ("terminate called without an active exception") after end_training.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

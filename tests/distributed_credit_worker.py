"""Run by tests/test_step_mode_training.py under `accelerate launch` (2 CPU processes): two steps of
`advantage_mode: step` with step-level EGSW, each prompt group split across the two processes;
each rank writes what it saw to OUT/rank<k>.json."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from stepgrpo.data.training import build_dataset
from stepgrpo.models import load_model_and_processor
from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.trainer import StepGRPOTrainer


def main(model_dir: str, data: str, out: str) -> None:
    args = StepGRPOConfig(output_dir=out, use_cpu=True, bf16=False, per_device_train_batch_size=2,
                          max_completion_length=8, max_steps=2, learning_rate=1e-3, logging_steps=1,
                          save_strategy="no", report_to="none", activation_checkpointing=False, seed=0,
                          advantage_mode="step", egsw={"alpha": 1.0, "temperature": 0.3, "level": "step"})
    model, processor = load_model_and_processor(model_dir)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=build_dataset(data), processing_class=processor)
    shapes = []
    generate = trainer._generate_and_score_completions

    def record(inputs):
        batch = generate(inputs)
        shapes.append([list(batch["advantages"].shape), list(batch["completion_mask"].shape)])
        return batch

    trainer._generate_and_score_completions = record
    trainer.train()
    report = {"rank": trainer.accelerator.process_index, "steps": trainer.state.global_step,
              "source": trainer._egsw_source, "shapes": shapes,
              "logs": [entry for entry in trainer.state.log_history if "egsw/weight_max" in entry]}
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

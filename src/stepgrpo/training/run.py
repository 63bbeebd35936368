"""The `stepgrpo train` pipeline: data → model → `StepGRPOTrainer` → saved model.

Order matters for users: configuration and data are checked first (cheap, and the errors name the
field or row), the model loads only after both passed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from stepgrpo.training.config import ConfigError, RunConfig, StepGRPOConfig


def lora_config(run: RunConfig) -> Any:
    """A peft `LoraConfig` when `lora_r` is set, else None (full fine-tuning)."""
    if run.lora_r is None:
        return None
    from peft import LoraConfig

    return LoraConfig(r=run.lora_r, lora_alpha=run.lora_alpha, lora_dropout=run.lora_dropout,
                      target_modules=run.lora_target_modules, task_type="CAUSAL_LM")


def resume_checkpoint(output_dir: str) -> str:
    """The newest `checkpoint-N` folder in `output_dir`; an error if there is none."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    if last is None:
        raise ConfigError(f"--resume: no checkpoint-N folder in {output_dir} (set save_steps to write them)")
    return last


def save_final(trainer: Any, processing_class: Any) -> Path:
    """Save the trained model and its processor to `output_dir/final`, atomically (written beside
    it, then renamed), so the folder is either complete or absent. Loadable as a `model:`.
    The run's metrics (every logged step) go to `output_dir/trainer_state.json`."""
    trainer.save_state()
    output_dir = Path(trainer.args.output_dir)
    final = output_dir / "final"
    staging = output_dir / ".final.tmp"
    trainer.save_model(str(staging))
    if trainer.accelerator.is_main_process:
        processing_class.save_pretrained(str(staging))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    trainer.accelerator.wait_for_everyone()
    return final


def dataset_builder(reasoning_format: str, router_rollout: str = "teacher") -> Any:
    """`build_dataset` for user rows; R1-Router step rows (`reasoning_format: router`) have their own,
    and on-policy R1-Router training reads questions (`router_rollout: on_policy`)."""
    if reasoning_format == "router" and router_rollout == "on_policy":
        from stepgrpo.router.onpolicy import build_question_dataset

        return build_question_dataset
    if reasoning_format == "router":
        from stepgrpo.router.dataset import build_step_dataset

        return build_step_dataset
    from stepgrpo.data.training import build_dataset

    return build_dataset


def train(run: RunConfig, args: StepGRPOConfig, resume: bool = False) -> Path:
    from stepgrpo.models import load_model_and_processor
    from stepgrpo.training.trainer import StepGRPOTrainer

    checkpoint = resume_checkpoint(args.output_dir) if resume else None
    build_dataset = dataset_builder(args.reasoning_format, args.router_rollout)
    dataset = build_dataset(run.train_data, args.reasoning_format, limit=run.limit)
    eval_dataset = build_dataset(run.eval_data, args.reasoning_format) if run.eval_data else None
    model, processing_class = load_model_and_processor(run.model, dtype=run.dtype, min_pixels=run.min_pixels,
                                                       max_pixels=run.max_pixels)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=eval_dataset,
                              processing_class=processing_class, peft_config=lora_config(run))
    trainer.train(resume_from_checkpoint=checkpoint)
    return save_final(trainer, processing_class)

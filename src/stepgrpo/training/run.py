"""The `stepgrpo train` pipeline: data → model → `StepGRPOTrainer` → saved model.

Order matters for users: configuration, the output folder (checkpoints of an earlier run), the data
and every image are checked first (cheap, and the errors name the field or row); the model loads
only after all passed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from stepgrpo.outputs import replace_path
from stepgrpo.training.config import ConfigError, RunConfig, StepGRPOConfig


def lora_config(run: RunConfig) -> Any:
    """A peft `LoraConfig` when `use_peft` or `lora_r` is set, else None (full fine-tuning)."""
    settings = run.lora_settings()
    if settings is None:
        return None
    from peft import LoraConfig

    return LoraConfig(**settings)


def resume_checkpoint(output_dir: str, requested: bool | str | Path = True) -> str:
    """The checkpoint to resume from (see `checkpoints.choose_checkpoint`): `requested` names one,
    True picks the newest complete one. Says which, and why newer ones were skipped."""
    from stepgrpo.training.checkpoints import choose_checkpoint

    choice = choose_checkpoint(output_dir, None if requested is True else requested)
    if os.environ.get("RANK", "0") == "0":
        print(choice.describe(), file=sys.stderr)
    return str(choice.path)


def start_checkpoint(output_dir: str, resume: bool | str | Path, overwrite: bool) -> tuple[str | None, list[Path]]:
    """The checkpoint to resume from (None for a fresh run), and for a fresh run with `overwrite`
    the old run's folders to remove once every check has passed (refused without `overwrite`)."""
    from stepgrpo.outputs import check_writable_place
    from stepgrpo.training.checkpoints import old_run_folders

    check_writable_place(Path(output_dir) / "final")
    if resume:
        return resume_checkpoint(output_dir, resume), []
    return None, old_run_folders(output_dir, overwrite)


def remove_old_run(folders: list[Path], accelerator: Any) -> None:
    from stepgrpo.training.checkpoints import remove_old_run as remove

    if folders and accelerator.is_main_process:
        remove(folders)
        print(f"--overwrite: removed {', '.join(str(folder) for folder in folders)}", file=sys.stderr)
    accelerator.wait_for_everyone()


def load_model(run: RunConfig) -> tuple[Any, Any]:
    """The model and its processing class; a model that cannot be loaded is a one-line `ConfigError`."""
    from stepgrpo.models import load_model_and_processor

    local = Path(run.model).expanduser()
    if not local.exists() and (run.model.startswith((".", "/", "~")) or run.model.count("/") > 1):
        raise ConfigError(f"model: no such model folder {run.model}")
    try:
        return load_model_and_processor(run.model, dtype=run.dtype, min_pixels=run.min_pixels,
                                        max_pixels=run.max_pixels, **run.model_kwargs())
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model: cannot load {run.model} ({first})") from None


def checked_images(dataset: Any, skip_bad_rows: bool) -> Any:
    """`dataset` once every image opened and verified (rows with bad images dropped and counted
    when `skip_bad_rows`, else a `TrainingDataError` naming each)."""
    from stepgrpo.data.validate import check_dataset_images

    dataset, problems = check_dataset_images(dataset, skip_bad_rows=skip_bad_rows)
    report_skipped(problems, f"--skip-bad-rows: skipped {len({p.where for p in problems})} row(s) with unreadable "
                             f"images, training on {len(dataset)}")
    return dataset


def report_skipped(problems: list[Any], summary: str) -> None:
    """Each skipped row, then `summary`, on stderr of the main process only."""
    if problems and os.environ.get("RANK", "0") == "0":
        for problem in problems:
            print(f"skipped {problem}", file=sys.stderr)
        print(summary, file=sys.stderr)


def built_dataset(build: Any, source: Any, reasoning_format: str, skip_bad_rows: bool, **kwargs: Any) -> Any:
    """`build(source, reasoning_format, **kwargs)`; with `skip_bad_rows`, rows that cannot be used
    (a missing field, an image file that is not there) are left out, each named, and counted."""
    import inspect

    if not skip_bad_rows:
        return build(source, reasoning_format, **kwargs)
    if "skipped" not in inspect.signature(build).parameters:
        raise ConfigError(f"--skip-bad-rows: not available for {build.__name__}'s rows; fix the rows instead")
    skipped: list[Any] = []
    dataset = build(source, reasoning_format, skipped=skipped, **kwargs)
    report_skipped(skipped, f"--skip-bad-rows: skipped {len(skipped)} row(s) that cannot be used, keeping "
                            f"{len(dataset)} of {source}")
    return dataset


def save_final(trainer: Any, processing_class: Any, run: RunConfig | None = None) -> Path:
    """Save the trained model and its processor to `output_dir/final`, atomically (written beside
    it, then renamed), so the folder is either complete or absent. Loadable as a `model:`.
    With `run`, a model card (README.md: base model, data, settings, rewards; model_card.py) too.
    The run's metrics (every logged step) go to `output_dir/trainer_state.json`."""
    trainer.save_state()
    output_dir = Path(trainer.args.output_dir)
    final = output_dir / "final"
    staging = output_dir / ".final.tmp"
    if trainer.accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)  # left by a run killed while saving
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))
    if trainer.accelerator.is_main_process:
        processing_class.save_pretrained(str(staging))
        if run is not None:
            from stepgrpo.training.model_card import write_model_card

            write_model_card(staging, trainer, run)
        replace_path(staging, final)
    trainer.accelerator.wait_for_everyone()
    return final


def dataset_builder(config: Any, router_rollout: str = "teacher") -> Any:
    """The row reader of the task that `config` selects (`stepgrpo.tasks`): `config` is a trainer
    config, or, as older callers pass it, a `reasoning_format` name (with R1-Router's `router_rollout`)."""
    from types import SimpleNamespace

    from stepgrpo.tasks import task_for

    if isinstance(config, str):
        config = SimpleNamespace(reasoning_format=config, router_rollout=router_rollout)
    return task_for(config.reasoning_format).dataset_builder(config)


def train(run: RunConfig, args: StepGRPOConfig, resume: bool | str | Path = False, overwrite: bool = False,
          skip_bad_rows: bool = False) -> Path:
    """Check everything, then train. `resume`: True for the newest complete checkpoint in
    output_dir, or a checkpoint folder; `overwrite` lets a fresh run replace old checkpoints;
    `skip_bad_rows` drops rows that cannot be used or whose images cannot be read (named and
    counted) instead of refusing the data."""
    from stepgrpo.training.trainer import StepGRPOTrainer

    checkpoint, old_run = start_checkpoint(args.output_dir, resume, overwrite)
    build_dataset = dataset_builder(args)
    dataset = checked_images(built_dataset(build_dataset, run.train_source(), args.reasoning_format, skip_bad_rows,
                                           limit=run.limit), skip_bad_rows)
    eval_source = run.eval_source()
    eval_dataset = (checked_images(built_dataset(build_dataset, eval_source, args.reasoning_format, skip_bad_rows),
                                   skip_bad_rows) if eval_source else None)
    model, processing_class = load_model(run)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=eval_dataset,
                              processing_class=processing_class, peft_config=lora_config(run))
    remove_old_run(old_run, trainer.accelerator)
    trainer.train(resume_from_checkpoint=checkpoint)
    return save_final(trainer, processing_class, run)

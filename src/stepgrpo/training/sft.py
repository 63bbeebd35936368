"""Policy warm-up (R1-VL stage 1): supervised fine-tuning on reference reasoning with TRL's
`SFTTrainer`, on the same rows as `train` plus a `reasoning` field. The loss covers the completion
only (TRL's prompt-completion format). The saved folder is a valid `model:` for `stepgrpo train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trl import SFTConfig

from stepgrpo.tasks import TaskConfigError, task_for
from stepgrpo.training.config import REASONING_FORMATS, ConfigError, RunConfig
from stepgrpo.training.defaults import RunOutputDefaults


@dataclass
class StepSFTConfig(RunOutputDefaults, SFTConfig):
    """`SFTConfig` plus the prompt format; sequences are not truncated unless `max_length` is set."""

    reasoning_format: str = field(
        default="r1vl", metadata={"help": f"Prompt format to wrap questions in. Allowed: {REASONING_FORMATS}."})
    max_length: int | None = field(
        default=None,
        metadata={"help": "Truncate prompt+completion to this many tokens (the completion's end is cut). Prompts "
                          "longer than this, image tokens included, are refused instead. None: no truncation."})

    def __post_init__(self) -> None:
        try:
            task_for(self.reasoning_format)  # any format a registered task trains (stepgrpo.tasks)
        except TaskConfigError as error:
            raise ConfigError(str(error)) from None
        super().__post_init__()


def sft(run: RunConfig, args: StepSFTConfig, resume: bool | str | Path = False, overwrite: bool = False,
        skip_bad_rows: bool = False) -> Path:
    """Check everything (as `train` does: checkpoints, rows, images), then warm up."""
    from trl import SFTTrainer

    from stepgrpo.training.console import use_console
    from stepgrpo.training.lengths import check_prompt_lengths
    from stepgrpo.training.run import (
        built_dataset,
        checked_images,
        dataset_builder,
        load_model,
        lora_config,
        remove_old_run,
        save_final,
        start_checkpoint,
    )

    checkpoint, old_run = start_checkpoint(args.output_dir, resume, overwrite)
    dataset = built_dataset(dataset_builder(args), run.train_source(), args.reasoning_format,
                            skip_bad_rows, sft=True, limit=run.limit)
    dataset = checked_images(dataset, skip_bad_rows)
    model, processing_class = load_model(run)
    if args.max_length is not None:
        # TRL keeps the start of a too-long sequence; a prompt that alone exceeds the limit would
        # lose image tokens, so refuse it (lengths.py).
        check_prompt_lengths(dataset, processing_class, args.max_length, setting="max_length")
    columns = [name for name in ("prompt", "completion", "image", "images") if name in dataset.column_names]
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset.select_columns(columns),
                         processing_class=processing_class, peft_config=lora_config(run))
    use_console(trainer)
    remove_old_run(old_run, trainer.accelerator)
    trainer.train(resume_from_checkpoint=checkpoint)
    return save_final(trainer, processing_class, run)

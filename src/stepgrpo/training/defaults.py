"""Trainer-argument defaults shared by `stepgrpo train` (`StepGRPOConfig`) and `stepgrpo sft`
(`StepSFTConfig`): where our runs differ from TRL's defaults for their outputs.

- `report_to: tensorboard`: every run writes TensorBoard event files under `output_dir/runs/`
  (TRL: no logger). `none` turns them off.
- Activation checkpointing on, as TRL's configs default it, but under transformers 5.23's name
  `activation_checkpointing`: TRL sets the deprecated `gradient_checkpointing` to True, which made
  every config we built warn. The old name still works (transformers then warns the user who set it).

No `from __future__ import annotations` here: the config loaders read these field types at runtime.
"""

from dataclasses import dataclass, field


@dataclass
class RunOutputDefaults:
    """Mixin placed before TRL's config class: `class StepGRPOConfig(RunOutputDefaults, GRPOConfig)`."""

    report_to: None | str | list[str] = field(  # noqa: RUF036 - TrainingArguments' own annotation, for its parser
        default="tensorboard",
        metadata={"help": "Where to log metrics: tensorboard (event files under output_dir/runs/), wandb, trackio, "
                          "all or none."})
    activation_checkpointing: bool | None = field(
        default=None,
        metadata={"help": "Recompute activations in the backward pass to save memory (~20% slower). None: on, as "
                          "TRL, unless the deprecated gradient_checkpointing is set."})
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated name of activation_checkpointing (transformers 5.23)."})

    def __post_init__(self) -> None:
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True
        super().__post_init__()  # type: ignore[misc]

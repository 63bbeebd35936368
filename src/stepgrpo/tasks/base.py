"""What a task brings to training, so that the training core (`stepgrpo.training`) holds no task
branches: the rows it reads, its reward functions by name, an optional rollout function and
optional step-level credit. A task claims one or more `reasoning_format` names; the registry
(`registry.py`) finds it by that name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

RewardFunc = Callable[..., list[float | None]]
"""TRL's contract: completions plus every dataset column as keyword arguments."""
DatasetBuilder = Callable[..., Any]
"""`build(source, reasoning_format, sft=False, limit=None, skipped=None) -> datasets.Dataset`."""


class TaskConfigError(ValueError):
    """A setting the task cannot train with; the message starts with the field's name."""


@dataclass(frozen=True)
class StepSplit:
    """A rollout batch cut into steps: what `advantage_mode: step` and step-level EGSW need.

    `step_index` (B, T): each completion token's step (−1: none); `rewards`: each local
    completion's per-step rewards (None when only the split was asked for); `mask` (B, T): the
    tokens that may carry an advantage (None: the completion mask)."""

    step_index: torch.Tensor
    rewards: list[list[float]] | None = None
    mask: torch.Tensor | None = None


class StepCredit(Protocol):
    def __call__(self, output: dict[str, Any], inputs: Sequence[dict[str, Any]], tokenizer: Any,
                 with_rewards: bool) -> StepSplit:
        """Split TRL's rollout `output` (its `inputs` rows: dataset columns and rollout fields)."""
        ...


class Task(Protocol):
    """One training task. Every method takes the trainer config (`StepGRPOConfig`, or `StepSFTConfig`
    for `dataset_builder`); settings a task does not know it ignores. `validate`, `reward_factories`
    and `step_credit` are also called by the recipe check before torch is imported
    (`training.checks`), on a namespace of the settings: they read attributes only, import nothing
    heavy at module level, and a factory loads nothing until it is called."""

    name: str
    settings: tuple[str, ...]
    """Trainer-config fields only this task reads; other tasks refuse them unless left at their default."""

    def formats(self) -> Sequence[str]:
        """The `reasoning_format` names this task trains."""
        ...

    def reward_factories(self, args: Any) -> Mapping[str, Callable[[], RewardFunc]]:
        """Reward-function name → factory; `reward_funcs` may name only these."""
        ...

    def validate(self, args: Any) -> None:
        """Raise `TaskConfigError` (naming the field) for settings this task cannot train with."""
        ...

    def dataset_builder(self, args: Any) -> DatasetBuilder:
        ...

    def rollout_func(self, args: Any) -> Callable[..., Any] | None:
        """TRL's `rollout_func(prompts, trainer)`, or None for TRL's own generation."""
        ...

    def step_credit(self, args: Any) -> StepCredit | None:
        """How completions split into steps with their rewards, or None: no step-level credit."""
        ...

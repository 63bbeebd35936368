"""Batch plumbing for `advantage_mode: step`: a task's step split of TRL's rollout batch
(`tasks.base.StepSplit`) in, per-token advantages out. The math lives in
`stepgrpo.advantages.token_advantages`; this module only gathers what a group needs across
processes (a group may span processes) and aligns the result with this process's rows."""

from __future__ import annotations

from typing import Any

import torch
from accelerate.utils import gather_object

from stepgrpo.advantages.token_advantages import step_advantages, token_advantages
from stepgrpo.tasks.base import StepSplit


def step_credit_advantages(output: dict[str, Any], split: StepSplit, group_size: int, first: int,
                           coef: float) -> torch.Tensor:
    """A = Â + c·Ã per token (docs/algorithms.md): Ã from the step rewards of whole groups
    (every process's, gathered), Â TRL's sequence advantages; `first` is this process's first row
    in the global batch."""
    if split.rewards is None:
        raise ValueError("step credit needs the split's rewards (with_rewards=True)")
    advantages, _ = step_advantages(gather_object(split.rewards), group_size)
    mask = split.mask if split.mask is not None else output["completion_mask"]
    return token_advantages(output["advantages"], advantages[first:first + len(split.rewards)], split.step_index,
                            mask, coef)

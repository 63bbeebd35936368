"""Per-token advantages (B, T) from per-step rewards: `advantage_mode: step`.

For completion i of a group of G, with spans t = 1..S_i, step rewards r_{i,t} and GRPO's
sequence advantage Â_i (TRL's, from the scalar rewards); g_t = the group's completions that have a
t-th span, n_t = |g_t|:

    R_{i,t}  = Σ_{t' ≥ t} r_{i,t'}                                  (reward-to-go within i)
    μ_t, σ_t = mean and std (Bessel) of R_{j,t} over j ∈ g_t          (the same step position only)
    Ã_{i,t}  = 0 if R_{j,t} is equal for every j ∈ g_t (no spread, or n_t = 1),
               else (R_{i,t} − μ_t) / (σ_t + ε)
    A_{i,k}  = m_{i,k} · (Â_i + c · Ã_{i, span(k)})                   (token k; m = completion mask)

`docs/algorithms.md` sets each line next to the code below and lists the properties that
`tests/test_step_credit_properties.py` checks. Identical completions get Ã = 0; with every r = 0,
A is exactly GRPO's Â broadcast over the completion's tokens; padding tokens are always 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

EPS = 1e-4
"""As TRL's and R1-VL's group normalisation: (r − mean) / (std + 1e-4)."""

TIE = 1e-9
"""Returns closer than TIE · (1 + max |R|) are equal: the same rewards summed in another order
differ in the last bits, and dividing that by its own tiny σ would turn rounding into ±0.7."""


def pad_steps(step_rewards: Sequence[Sequence[float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged per-completion step rewards → (N, S) float tensor and its validity mask."""
    width = max((len(rewards) for rewards in step_rewards), default=0) or 1
    values = torch.zeros(len(step_rewards), width, dtype=torch.float64)
    valid = torch.zeros(len(step_rewards), width, dtype=torch.bool)
    for row, rewards in enumerate(step_rewards):
        values[row, : len(rewards)] = torch.tensor(rewards, dtype=torch.float64)
        valid[row, : len(rewards)] = True
    return values, valid


def rewards_to_go(rewards: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """R_{i,t} = Σ_{t' ≥ t} r_{i,t'}; 0 where there is no span."""
    rewards = rewards * valid
    return (rewards.flip(-1).cumsum(-1).flip(-1)) * valid


def normalize_per_step(values: torch.Tensor, valid: torch.Tensor, group_size: int, eps: float = EPS) -> torch.Tensor:
    """(v − μ_t) / (σ_t + eps) over the valid entries of column t within each group of `group_size`
    rows (σ with Bessel's correction, as TRL); exactly 0 where those entries are all equal (within
    `TIE`), and 0 where invalid."""
    rows, width = values.shape
    if rows % group_size:
        raise ValueError(f"{rows} completions do not form groups of {group_size}")
    grouped = values.reshape(-1, group_size, width)
    present = valid.reshape(-1, group_size, width)
    mask = present.to(values.dtype)
    count = mask.sum(1, keepdim=True)
    mean = (grouped * mask).sum(1, keepdim=True) / count.clamp(min=1)
    variance = (((grouped - mean) * mask) ** 2).sum(1, keepdim=True) / (count - 1).clamp(min=1)
    highest = grouped.masked_fill(~present, float("-inf")).amax(1, keepdim=True)
    lowest = grouped.masked_fill(~present, float("inf")).amin(1, keepdim=True)
    size = torch.maximum(highest.abs(), lowest.abs()).nan_to_num(posinf=0.0)
    spread = highest - lowest > TIE * (1 + size)  # False where the column is empty, has one entry, or ties
    normalized = torch.where(spread & present, (grouped - mean) / (variance.sqrt() + eps), 0.0)
    return normalized.reshape(rows, width)


def step_advantages(step_rewards: Sequence[Sequence[float]], group_size: int,
                    eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Ã (N, S) and its validity mask, for the step rewards of whole groups (N = groups × G)."""
    rewards, valid = pad_steps(step_rewards)
    return normalize_per_step(rewards_to_go(rewards, valid), valid, group_size, eps), valid


def token_step_index(ranges: Sequence[Sequence[tuple[int, int]]], length: int) -> torch.Tensor:
    """(B, length) long tensor: the span index of each token, −1 where no span covers it."""
    index = torch.full((len(ranges), length), -1, dtype=torch.long)
    for row, spans in enumerate(ranges):
        for span, (low, high) in enumerate(spans):
            index[row, low:min(high, length)] = span
    return index


def token_advantages(sequence_advantages: torch.Tensor, step_advantages: torch.Tensor, step_index: torch.Tensor,
                     completion_mask: torch.Tensor, coef: float) -> torch.Tensor:
    """A_{i,k} = m_{i,k} · (Â_i + c · Ã_{i,span(k)}), shape (B, T), in Â's dtype and device."""
    device, dtype = sequence_advantages.device, sequence_advantages.dtype
    step_index = step_index.to(device)
    per_token = step_advantages.to(device, dtype).gather(1, step_index.clamp(min=0)) * (step_index >= 0)
    return (sequence_advantages.unsqueeze(1) + coef * per_token) * completion_mask.to(dtype)

"""Per-token advantages (B, T) from per-step rewards: `advantage_mode: step`.

For completion i of a group of G, with spans t = 1..S_i, step rewards r_{i,t} and GRPO's
sequence advantage Â_i (TRL's, from the scalar rewards):

    R_{i,t}  = Σ_{t' ≥ t} r_{i,t'}                                  (reward-to-go within i)
    Ã_{i,t}  = (R_{i,t} − mean_g R) / (std_g R + ε)                  (over every span of the group)
    A_{i,k}  = m_{i,k} · (Â_i + c · Ã_{i, span(k)})                   (token k; m = completion mask)

`docs/algorithms.md` sets each line next to the code below. With every r = 0, Ã = 0 and A is
exactly GRPO's Â broadcast over the completion's tokens; padding tokens are always 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

EPS = 1e-4
"""As TRL's and R1-VL's group normalisation: (r − mean) / (std + 1e-4)."""


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


def normalize_in_groups(values: torch.Tensor, valid: torch.Tensor, group_size: int, eps: float = EPS) -> torch.Tensor:
    """(v − mean) / (std + eps) over the valid entries of each group of `group_size` rows (std with
    Bessel's correction, as TRL); 0 where invalid."""
    rows, width = values.shape
    if rows % group_size:
        raise ValueError(f"{rows} completions do not form groups of {group_size}")
    grouped = values.reshape(-1, group_size * width)
    mask = valid.reshape(-1, group_size * width).to(values.dtype)
    count = mask.sum(-1, keepdim=True)
    mean = (grouped * mask).sum(-1, keepdim=True) / count.clamp(min=1)
    variance = (((grouped - mean) * mask) ** 2).sum(-1, keepdim=True) / (count - 1).clamp(min=1)
    normalized = (grouped - mean) / (variance.sqrt() + eps) * mask
    return normalized.reshape(rows, width)


def step_advantages(step_rewards: Sequence[Sequence[float]], group_size: int,
                    eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Ã (N, S) and its validity mask, for the step rewards of whole groups (N = groups × G)."""
    rewards, valid = pad_steps(step_rewards)
    return normalize_in_groups(rewards_to_go(rewards, valid), valid, group_size, eps), valid


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

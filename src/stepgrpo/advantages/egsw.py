"""EGSW (arXiv 2503.22456): weight each output's policy-gradient term by a softmax, over its group,
of its advantage plus an entropy bonus.

    w_raw(i,t) = exp((A(i,t) + α·H(i,t)) / P),   w(i,t) = w_raw(i,t) / Σ_j w_raw(j,t)   (paper)
    ω(i,t)     = n_t · w(i,t)                                                         (here)

t is the whole output (`level: sequence`) or its t-th span (`level: step`); j runs over the group's
outputs that have a t-th span, n_t of them (G at sequence level). H is the mean token entropy over
the output's (or span's) completion tokens, taken without gradient: it is a weight, not a regulariser.

Loss scale: the paper's weights sum to 1 over a group; ours are n_t times larger, so they average 1
within each group and the loss keeps plain GRPO's scale (learning rates carry over). With α = 0 and
P → ∞ every ω → 1: unweighted GRPO. Because ω > 0, multiplying the advantage by ω multiplies TRL's
clipped surrogate term by ω and leaves the KL term alone: min(ρ·ωA, clip(ρ)·ωA) = ω·min(ρA, clip(ρ)A).
"""

from __future__ import annotations

import torch


def segment_means(values: torch.Tensor, segment: torch.Tensor, mask: torch.Tensor,
                  num_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of `values` (B, T) over the masked tokens of each segment (`segment` (B, T), −1 for
    none) → (B, num_segments) means and whether each segment has any token."""
    values, mask = values.detach(), mask.to(values.dtype) * (segment >= 0)
    index = segment.clamp(min=0)
    sums = values.new_zeros(values.size(0), num_segments).scatter_add_(1, index, values * mask)
    counts = values.new_zeros(values.size(0), num_segments).scatter_add_(1, index, mask)
    return sums / counts.clamp(min=1), counts > 0


def sequence_means(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` (B, T) over each row's masked tokens → (B,), without gradient."""
    mask = mask.to(values.dtype)
    return (values.detach() * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def egsw_weights(advantages: torch.Tensor, entropies: torch.Tensor, group_size: int, alpha: float,
                 temperature: float, valid: torch.Tensor | None = None) -> torch.Tensor:
    """ω = n · softmax_group((A + α·H) / P) for rows of whole groups: (N,) at sequence level, or
    (N, S) at step level with `valid` marking which outputs have a t-th span; 0 where invalid."""
    if temperature <= 0 or alpha < 0:
        raise ValueError(f"EGSW needs temperature > 0 and alpha >= 0, got P={temperature}, alpha={alpha}")
    if advantages.size(0) % group_size:
        raise ValueError(f"{advantages.size(0)} outputs do not form groups of {group_size}")
    scores = (advantages.detach() + alpha * entropies.detach()) / temperature
    valid = torch.ones_like(scores, dtype=torch.bool) if valid is None else valid
    grouped = scores.reshape(-1, group_size, *scores.shape[1:]).masked_fill(
        ~valid.reshape(-1, group_size, *scores.shape[1:]), float("-inf"))
    weights = torch.softmax(grouped, dim=1).nan_to_num(0.0)  # a column with no valid output → 0
    count = valid.reshape(grouped.shape).sum(1, keepdim=True)
    return (weights * count).reshape(scores.shape)

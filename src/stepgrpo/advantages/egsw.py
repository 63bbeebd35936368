"""EGSW (arXiv 2503.22456): weight each output's policy-gradient term by a softmax, over its group,
of its advantage plus an entropy bonus.

    w_raw(i,t) = exp((A(i,t) + α·H(i,t)) / P),   w(i,t) = w_raw(i,t) / Σ_j w_raw(j,t)   (paper)
    ω(i,t)     = n_t · w(i,t)                                                         (here)

t is the whole output (`level: sequence`) or its t-th span (`level: step`); j runs over the group's
outputs that have a t-th span, n_t of them (G at sequence level). The trainer gathers every
process's entries first, so a group split across processes is normalised as a whole. H is the mean token entropy over
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


def egsw_weights(advantages: torch.Tensor, entropies: torch.Tensor, groups: torch.Tensor, alpha: float,
                 temperature: float) -> torch.Tensor:
    """ω = n · softmax((A + α·H) / P) over the entries that share a `groups` key (all 1-D, one entry
    per output at sequence level, per (output, span) at step level; n = entries in the key)."""
    if temperature <= 0 or alpha < 0:
        raise ValueError(f"EGSW needs temperature > 0 and alpha >= 0, got P={temperature}, alpha={alpha}")
    scores = (advantages.detach() + alpha * entropies.detach()).double() / temperature
    keys, index = torch.unique(groups, return_inverse=True)
    top = scores.new_full((len(keys),), float("-inf")).scatter_reduce(0, index, scores, "amax")
    raw = torch.exp(scores - top[index])  # shifted by the key's max: same softmax, no overflow
    total = torch.zeros_like(top).scatter_add_(0, index, raw)
    count = torch.zeros_like(top).scatter_add_(0, index, torch.ones_like(raw))
    return (raw / total[index] * count[index]).to(advantages.dtype)

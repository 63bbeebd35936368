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

This module holds all of EGSW: the weights (`egsw_weights`), their application to a rollout
batch (`apply_egsw`, groups gathered across processes) and `EntropyWeighting`, which decides
where the trainer's entropies come from and when the advantages are weighted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

SPAN_KEY = 2**20
"""Step-level key = group · SPAN_KEY + span index (a completion has far fewer spans)."""


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


def gather_entries(table: torch.Tensor, accelerator: Any) -> torch.Tensor:
    """Every process's rows of `table` (row counts may differ), concatenated in rank order."""
    if accelerator.num_processes == 1:
        return table
    real = torch.ones(table.size(0), 1, dtype=table.dtype, device=table.device)
    padded = accelerator.pad_across_processes(torch.cat([table, real], 1), dim=0, pad_index=0)
    everything = accelerator.gather(padded)
    return everything[everything[:, -1] == 1][:, :-1]


def apply_egsw(batch: dict[str, Any], entropies: torch.Tensor, settings: dict[str, Any], group_size: int,
               accelerator: Any) -> dict[str, float]:
    """Multiply `batch["advantages"]` by the EGSW weights (in place); return weight statistics.

    `batch["egsw_row"]` holds each completion's row in the global rollout batch, so completions of
    one group are found again after TRL's shuffling and across processes; `level: step` reads the
    spans from `batch["step_index"]`."""
    mask = batch["completion_mask"]
    advantages = batch["advantages"]
    per_token = advantages if advantages.dim() == 2 else advantages.unsqueeze(1).expand_as(mask)
    group = batch["egsw_row"] // group_size
    if settings["level"] == "sequence":
        owner = torch.arange(mask.size(0), device=mask.device)
        keys, a, h = group, sequence_means(per_token, mask), sequence_means(entropies, mask)
    else:
        step_index = batch["step_index"]
        spans = int(step_index.max().item()) + 1
        a_spans, present = segment_means(per_token, step_index, mask, spans)
        h_spans, _ = segment_means(entropies, step_index, mask, spans)
        owner, span = present.nonzero(as_tuple=True)
        keys, a, h = group[owner] * SPAN_KEY + span, a_spans[present], h_spans[present]
    rank = torch.full_like(a, accelerator.process_index, dtype=torch.float64)
    table = gather_entries(torch.stack([keys.double(), a.double(), h.double(), rank], 1), accelerator)
    weights = egsw_weights(table[:, 1], table[:, 2], table[:, 0].long(), settings["alpha"], settings["temperature"])
    mine = weights[table[:, 3] == accelerator.process_index].to(per_token.dtype)  # gathered in local order
    if settings["level"] == "sequence":
        batch["advantages"] = advantages * (mine if advantages.dim() == 1 else mine.unsqueeze(1))
    else:
        span_weights = torch.ones(a_spans.shape, dtype=per_token.dtype, device=mask.device)
        span_weights[owner, span] = mine
        token_weights = span_weights.gather(1, step_index.clamp(min=0))
        batch["advantages"] = per_token * torch.where(step_index >= 0, token_weights, 1.0) * mask
    return {"egsw/weight_min": weights.min().item(), "egsw/weight_max": weights.max().item(),
            "egsw/entropy_mean": table[:, 2].mean().item()}


class EntropyWeighting:
    """EGSW inside TRL's GRPOTrainer, with entropies from a forward pass TRL runs anyway where one exists.

    `source` (`choose_source`):

    - "rollout": TRL scores the rollout with the policy (`old_per_token_logps`, when
      `num_iterations > 1` or generation and accumulation are misaligned); that pass is asked for
      entropies too (`claims_scoring_pass`), and the rollout batch is weighted (`weight_rollout`).
    - "loss": one micro-batch per generation and one iteration: the loss pass's entropies come from
      the rollout policy and every group is in the batch (gathered across processes). TRL's
      `_compute_loss` reads the advantages right after its forward pass and offers no hook in
      between, so the trainer hands that pass's entropies to `weight_loss_batch`, which weights the
      copy of the batch that `loss_batch` armed (the buffered batch stays as generated).
    - "extra": otherwise (gradient accumulation over one generation): an extra no-grad pass at
      rollout, the only way to see a group whole before its first micro-batch's loss.
    """

    def __init__(self, settings: dict[str, Any], source: str, accelerator: Any,
                 log: Callable[[dict[str, float]], None]) -> None:
        self.settings, self.source, self.accelerator, self.log = settings, source, accelerator, log
        self.by_step = settings["level"] == "step"
        self._capturing = False
        self._captured: torch.Tensor | None = None
        self._pending: dict[str, Any] | None = None

    @staticmethod
    def choose_source(gradient_accumulation_steps: int, steps_per_generation: int, num_iterations: int,
                      scores_rollout: bool = False) -> str:
        """`scores_rollout`: TRL scores every rollout anyway (vLLM importance-sampling correction)."""
        if scores_rollout or gradient_accumulation_steps % (steps_per_generation * num_iterations) != 0:
            return "rollout"
        return "loss" if steps_per_generation == 1 and num_iterations == 1 else "extra"

    @contextmanager
    def rollout(self, training: bool) -> Iterator[None]:
        """Around TRL's generation and scoring: arm the capture of its scoring pass's entropies."""
        self._capturing, self._captured = training and self.source == "rollout", None
        try:
            yield
        finally:
            self._capturing = False

    def claims_scoring_pass(self, policy: bool) -> bool:
        """Whether this log-prob pass (of the policy or not) is the rollout scoring pass to capture."""
        if self._capturing and policy:
            self._capturing = False
            return True
        return False

    def keep_scoring_entropies(self, entropies: torch.Tensor) -> None:
        self._captured = entropies

    def weight_rollout(self, output: dict[str, Any], group_size: int,
                       extra_pass: Callable[[], torch.Tensor]) -> None:
        """Weight a training rollout batch ("rollout" and "extra" sources; "loss" waits for the loss)."""
        if self.source == "loss":
            return
        entropies, self._captured = self._captured, None
        if entropies is None:
            entropies = extra_pass()
        self.log(apply_egsw(output, entropies, self.settings, group_size, self.accelerator))

    @contextmanager
    def loss_batch(self, inputs: dict[str, Any], training: bool) -> Iterator[dict[str, Any]]:
        """The batch for TRL's loss: with the "loss" source in training, a copy armed for weighting."""
        if self.source != "loss" or not training:
            yield inputs
            return
        self._pending = dict(inputs)
        try:
            yield self._pending
        finally:
            self._pending = None

    def weight_loss_batch(self, entropies: torch.Tensor | None, group_size: int) -> None:
        """The loss pass's entropies: weight the armed batch once, before TRL reads its advantages."""
        pending, self._pending = self._pending, None
        if pending is not None and entropies is not None:
            self.log(apply_egsw(pending, entropies, self.settings, group_size, self.accelerator))

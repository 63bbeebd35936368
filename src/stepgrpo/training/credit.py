"""Batch plumbing for `advantage_mode: step` and EGSW: TRL's rollout batch in, per-token
advantages out. The math lives in `stepgrpo.advantages`; this module only decodes, aligns spans
with tokens, and gathers what a group needs across processes (a group may span processes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from accelerate.utils import gather_object

from stepgrpo.advantages.egsw import egsw_weights, segment_means, sequence_means
from stepgrpo.advantages.spans import token_ranges
from stepgrpo.advantages.step_rewards import StepRewards, step_rewards
from stepgrpo.advantages.token_advantages import step_advantages, token_advantages, token_step_index
from stepgrpo.rewards.trl import as_choices

SPAN_KEY = 2**20
"""EGSW step-level key = group · SPAN_KEY + span index (a completion has far fewer spans)."""


def batch_step_rewards(texts: Sequence[str], inputs: Sequence[dict[str, Any]], args: Any,
                       with_rewards: bool) -> list[StepRewards]:
    """Spans (and, `with_rewards`, the configured rewards split over them) for each completion."""
    weights: dict[str, float] = {}
    if with_rewards:
        factors = args.reward_weights or [1.0] * len(args.reward_funcs)
        for name, weight in zip(args.reward_funcs, factors, strict=True):
            weights[name] = weights.get(name, 0.0) + float(weight)
    return [step_rewards(text, row.get("solution") or "", row.get("key_steps"), as_choices(row.get("choices")),
                         args.reasoning_format, args.alpha, weights)
            for text, row in zip(texts, inputs, strict=True)]


def batch_step_index(completion_ids: torch.Tensor, texts: Sequence[str], results: Sequence[StepRewards],
                     decode: Callable[[Sequence[int]], str]) -> torch.Tensor:
    """(B, T) span index of every completion token (padding included: the loss masks it)."""
    rows = completion_ids.tolist()
    ranges = [token_ranges(row, text, result.starts, decode) for row, text, result in zip(rows, texts, results,
                                                                                          strict=True)]
    return token_step_index(ranges, completion_ids.size(1)).to(completion_ids.device)


def router_token_advantages(output: dict[str, Any], inputs: Sequence[dict[str, Any]], args: Any, group_size: int,
                            first: int) -> torch.Tensor:
    """On-policy R1-Router trajectories (`stepgrpo.router.onpolicy`): each model turn is a step, its
    reward from `trajectory_step_rewards`; A = Â + c·Ã as in `advantage_mode: step`, grouped over the
    G rollouts of one question (gathered across processes), and 0 on inserted text (`tool_mask` 0)."""
    from stepgrpo.router.onpolicy import trajectory_step_rewards
    from stepgrpo.router.rewards import query_similarity

    similarity = query_similarity(args.router_embedding_model)
    rewards = [trajectory_step_rewards(row["turns"], row["ref_queries"], row["ref_kbs"], row["ref_answers"],
                                       similarity) for row in inputs]
    advantages, _ = step_advantages(gather_object(rewards), group_size)
    ranges = [[(turn["start"], turn["end"]) for turn in row["turns"]] for row in inputs]
    completion_ids = output["completion_ids"]
    step_index = token_step_index(ranges, completion_ids.size(1)).to(completion_ids.device)
    mask = output["completion_mask"] * output["tool_mask"] if "tool_mask" in output else output["completion_mask"]
    return token_advantages(output["advantages"], advantages[first:first + len(inputs)], step_index, mask,
                            args.step_advantage_coef)


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
    one group are found again after TRL's shuffling and across processes."""
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

"""verl custom reward: point `custom_reward_function.path` at this file, `name: compute_score`.

verl calls `compute_score(data_source, solution_str, ground_truth, extra_info)` per sample; the key
steps (and optional `choices`, `alpha`, `reasoning_format`) come in `extra_info`. The returned dict
has `score` (r_auc + r_val, the paper's reward) and its parts, which verl logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stepgrpo.rewards.accuracy import ALPHA, accuracy_report
from stepgrpo.rewards.trl import _choices_or_none, _truth, completion_text
from stepgrpo.rewards.validity import validity_report


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: Mapping[str, Any] | None = None, **_: Any) -> dict[str, float]:
    extra = dict(extra_info or {})
    fmt = extra.get("reasoning_format")
    alpha = float(extra.get("alpha", ALPHA))
    choices = _choices_or_none(extra.get("choices"))
    text = completion_text(solution_str)
    accuracy = accuracy_report(text, _truth(ground_truth), extra.get("key_steps"), choices, fmt)
    validity = validity_report(text, fmt)
    step_accuracy = accuracy.reward(alpha)
    step_validity = 1.0 if validity.ok else 0.0
    return {
        "score": step_accuracy + step_validity,
        "step_accuracy": step_accuracy,
        "step_validity": step_validity,
        "answer_correct": float(accuracy.correct),
        "key_step_fraction": accuracy.key_step_fraction,
    }

"""TRL reward functions: `GRPOTrainer(reward_funcs=[step_accuracy_reward, step_validity_reward])`.

They follow TRL's contract: called with the completions plus every dataset column as keyword
arguments (one entry per completion) and return one float per completion. Completions may be plain
strings or conversations (`[{"role": "assistant", "content": ...}]`). When TRL passes `log_metric`
and `log_extra`, sub-metrics (answer accuracy, key-step fraction, validity) and a per-completion
reason column are logged. `make_*` build variants with another α or reasoning format; the function
name (TRL's metric name) stays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stepgrpo.cells import choices_cell, completion_cell, solution_cell
from stepgrpo.parsing import ReasoningFormat
from stepgrpo.rewards.accuracy import ALPHA, accuracy_report
from stepgrpo.rewards.answer import check_answer
from stepgrpo.rewards.validity import validity_report

RewardFunc = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text of one completion, whether TRL passes a string or a conversation (None content is empty)."""
    return completion_cell(completion)


def as_choices(value: Any) -> dict[str, str] | None:
    """A choices cell as a letter → text dict: a dict, a JSON string of one, a list (A, B, ...) or None.

    Raises `ValueError` naming the field for anything else (`stepgrpo.cells.choices_cell`)."""
    return choices_cell(value)


def _choices_or_none(value: Any) -> dict[str, str] | None:
    """In a training loop a bad choices cell costs its own options, not the run."""
    try:
        return choices_cell(value)
    except ValueError:
        return None


def _truth(value: Any) -> str:
    try:
        return solution_cell(value)
    except ValueError:
        return ""  # matches nothing


def _column(kwargs: Mapping[str, Any], name: str, size: int) -> list[Any]:
    values = kwargs.get(name)
    return list(values) if values is not None else [None] * size


def _log(kwargs: Mapping[str, Any], metrics: Mapping[str, float], extra: Mapping[str, list[Any]]) -> None:
    log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
    if log_metric is not None:
        for name, value in metrics.items():
            log_metric(name, value)
    if log_extra is not None:
        for column, values in extra.items():
            log_extra(column, values)


def make_step_accuracy_reward(alpha: float = ALPHA, fmt: str | ReasoningFormat | None = None) -> RewardFunc:
    """StepRAR (r_auc) as a TRL reward function, for a given α and reasoning format."""

    def step_accuracy_reward(completions: list[Any], solution: list[str], key_steps: list[Any] | None = None,
                             **kwargs: Any) -> list[float]:
        size = len(completions)
        key_steps = key_steps if key_steps is not None else [None] * size
        choices = _column(kwargs, "choices", size)
        reports = [accuracy_report(completion_text(c), _truth(truth), keys, _choices_or_none(options), fmt)
                   for c, truth, keys, options in zip(completions, solution, key_steps, choices, strict=True)]
        if reports:
            _log(kwargs, {
                "step_accuracy/answer_correct": sum(r.correct for r in reports) / size,
                "step_accuracy/answered": sum(r.answer is not None for r in reports) / size,
                "step_accuracy/key_step_fraction": sum(r.key_step_fraction for r in reports) / size,
            }, {"answer": [r.answer for r in reports]})
        return [report.reward(alpha) for report in reports]

    return step_accuracy_reward


def make_step_validity_reward(fmt: str | ReasoningFormat | None = None) -> RewardFunc:
    """StepRVR (r_val) as a TRL reward function, for a given reasoning format."""

    def step_validity_reward(completions: list[Any], **kwargs: Any) -> list[float]:
        reports = [validity_report(completion_text(c), fmt) for c in completions]
        if reports:
            _log(kwargs, {"step_validity/valid": sum(r.ok for r in reports) / len(reports)},
                 {"validity": [r.reason for r in reports]})
        return [1.0 if report.ok else 0.0 for report in reports]

    return step_validity_reward


def make_outcome_reward(fmt: str | ReasoningFormat | None = None) -> RewardFunc:
    """Outcome only (1.0 for a correct final answer, else 0.0): the plain-GRPO baseline's reward."""

    def outcome_reward(completions: list[Any], solution: list[str], **kwargs: Any) -> list[float]:
        choices = _column(kwargs, "choices", len(completions))
        return [float(check_answer(completion_text(c), _truth(truth), _choices_or_none(options), fmt))
                for c, truth, options in zip(completions, solution, choices, strict=True)]

    return outcome_reward


step_accuracy_reward = make_step_accuracy_reward()
step_validity_reward = make_step_validity_reward()
outcome_reward = make_outcome_reward()

"""verl custom reward functions: r = r_auc (StepRAR) + r_val (StepRVR), with the parts for verl's logs.

verl loads a reward *file* by path (`custom_reward_function.path`); in an install, this file's path is
printed by `python -m stepgrpo.rewards.verl --path`. Two entry points, for verl's two reward managers:

- `compute_score(data_source, solution_str, ground_truth, extra_info)`: one sample, as the default
  (`naive`) reward manager calls it. `custom_reward_function.name=compute_score`.
- `compute_score_batched(data_sources, solution_strs, ground_truths, extra_infos)`: the whole batch,
  as `reward_model.reward_manager=batch` calls it. `custom_reward_function.name=compute_score_batched`.

Each row's `extra_info` carries `key_steps` (and optionally `choices`, `alpha`, `reasoning_format`);
cells read back by pandas (numpy arrays, NaN for a missing value) are accepted. `alpha` and
`reasoning_format` may also be given run-wide in `custom_reward_function.reward_kwargs`; a row's
own value wins. Each result is `{"score", "step_accuracy", "step_validity", "answer_correct",
"key_step_fraction"}`: the same keys for every row, as verl's `reward_extra_info` needs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stepgrpo.cells import is_missing, plain
from stepgrpo.rewards.accuracy import ALPHA, accuracy_report
from stepgrpo.rewards.trl import _choices_or_none, _truth, completion_text
from stepgrpo.rewards.validity import validity_report

SCORE_KEYS = ("score", "step_accuracy", "step_validity", "answer_correct", "key_step_fraction")


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None, *,
                  alpha: float = ALPHA, reasoning_format: str | None = None, **_: Any) -> dict[str, float]:
    """One sample, as verl's per-sample reward manager calls it (keyword or positional)."""
    extra = _extra(extra_info)
    return step_scores(solution_str, ground_truth, extra.get("key_steps"), extra.get("choices"),
                       alpha=_alpha(extra.get("alpha"), alpha),
                       reasoning_format=_text_or(extra.get("reasoning_format"), reasoning_format))


def compute_score_batched(data_sources: Sequence[Any], solution_strs: Sequence[Any], ground_truths: Sequence[Any],
                          extra_infos: Sequence[Any] | None = None, *, alpha: float = ALPHA,
                          reasoning_format: str | None = None, **_: Any) -> list[dict[str, float]]:
    """The batch, as verl's `batch` reward manager calls it: one result per solution, in order."""
    size = len(solution_strs)
    extras = [None] * size if extra_infos is None else list(extra_infos)
    if not len(data_sources) == len(ground_truths) == len(extras) == size:
        raise ValueError(f"compute_score_batched: {size} solution_strs but {len(ground_truths)} ground_truths, "
                         f"{len(data_sources)} data_sources and {len(extras)} extra_infos")
    return [compute_score(source, solution, truth, extra, alpha=alpha, reasoning_format=reasoning_format)
            for source, solution, truth, extra in zip(data_sources, solution_strs, ground_truths, extras, strict=True)]


def step_scores(completion: Any, ground_truth: Any, key_steps: Any = None, choices: Any = None, *,
                alpha: float = ALPHA, reasoning_format: str | None = None) -> dict[str, float]:
    """The reward and its parts for one completion; shared by the verl and EasyR1 adapters."""
    text = completion_text(completion)
    accuracy = accuracy_report(text, _truth(ground_truth), key_steps, _choices_or_none(choices), reasoning_format)
    step_accuracy = accuracy.reward(alpha)
    step_validity = 1.0 if validity_report(text, reasoning_format).ok else 0.0
    return {
        "score": step_accuracy + step_validity,
        "step_accuracy": step_accuracy,
        "step_validity": step_validity,
        "answer_correct": float(accuracy.correct),
        "key_step_fraction": accuracy.key_step_fraction,
    }


def _extra(value: Any) -> dict[str, Any]:
    """An extra_info cell (dict, pandas row, None, NaN) as a plain dict; anything else holds nothing."""
    value = plain(value)
    return dict(value) if isinstance(value, Mapping) else {}


def _alpha(value: Any, default: float) -> float:
    """A row's α, or the run's when the row has none (None/NaN where pandas filled a gap)."""
    value = plain(value)
    if is_missing(value):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"extra_info field 'alpha': expected a finite number, got {value!r}")
    return float(value)


def _text_or(value: Any, default: str | None) -> str | None:
    value = plain(value)
    return default if is_missing(value) else str(value)


def path_cli(file: str, prog: str, description: str, argv: Sequence[str] | None = None) -> None:
    """`python -m stepgrpo.rewards.<framework> --path`: the file to give a framework that loads rewards by path."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--path", action="store_true", help="print the path of this reward file")
    if parser.parse_args(argv).path:
        print(Path(file).resolve())
    else:
        parser.print_help()


if __name__ == "__main__":
    path_cli(__file__, "python -m stepgrpo.rewards.verl",
             "verl reward functions compute_score (naive manager) and compute_score_batched (batch manager).")

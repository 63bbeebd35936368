"""EasyR1 batch reward function: r = r_auc (StepRAR) + r_val (StepRVR) as `overall`, plus its parts.

EasyR1 loads a reward file by path (`worker.reward.reward_function=<path>:compute_score`, with
`worker.reward.reward_type=batch`); in an install, this file's path is printed by
`python -m stepgrpo.rewards.easyr1 --path`. EasyR1 calls `compute_score(reward_inputs)` with one
dict per response (`response`, `response_length`, `ground_truth`) and logs every key it gets back;
`overall` is the reward. `reward_function_kwargs` may set `alpha` and `reasoning_format`.

EasyR1 hands the reward only the dataset's answer column as `ground_truth`, so the key steps travel
inside it: a JSON object (or a dict, from a struct column) with `solution` and optionally
`key_steps`, `choices` and `alpha`, e.g. `{"solution": "11", "key_steps": [["4 + 7 = 11"]]}`.
A plain answer (`"11"`) is scored with no key steps (r_auc is then the outcome reward). Key steps
a fork passes beside `ground_truth` in the input dict are read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from stepgrpo.cells import plain
from stepgrpo.rewards.accuracy import ALPHA
from stepgrpo.rewards.verl import _alpha, _text_or, path_cli, step_scores

PARTS = ("step_accuracy", "step_validity", "answer_correct", "key_step_fraction")


def compute_score(reward_inputs: Sequence[Mapping[str, Any]], *, alpha: float = ALPHA,
                  reasoning_format: str | None = None, **_: Any) -> list[dict[str, float]]:
    """One `{"overall", "step_accuracy", "step_validity", "answer_correct", "key_step_fraction"}` per input."""
    if isinstance(reward_inputs, Mapping):
        raise ValueError("stepgrpo.rewards.easyr1.compute_score is a batch reward function: "
                         "set worker.reward.reward_type=batch")
    return [_score(reward_input, alpha, reasoning_format) for reward_input in reward_inputs]


def _score(reward_input: Mapping[str, Any], alpha: float, reasoning_format: str | None) -> dict[str, float]:
    truth = _ground_truth(reward_input.get("ground_truth"))
    key_steps = truth.get("key_steps", reward_input.get("key_steps"))
    choices = truth.get("choices", reward_input.get("choices"))
    scores = step_scores(reward_input.get("response"), truth.get("solution"), key_steps, choices,
                         alpha=_alpha(truth.get("alpha"), alpha),
                         reasoning_format=_text_or(truth.get("reasoning_format"), reasoning_format))
    return {"overall": scores["score"], **{part: scores[part] for part in PARTS}}


def _ground_truth(value: Any) -> dict[str, Any]:
    """The ground-truth cell as `{"solution": ..., "key_steps": ...}`: a JSON object, a dict or a plain answer."""
    value = plain(value)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = plain(json.loads(value))
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, Mapping) and "solution" in parsed:
            value = parsed
    if isinstance(value, Mapping):
        return dict(value)
    return {"solution": value}


if __name__ == "__main__":
    path_cli(__file__, "python -m stepgrpo.rewards.easyr1", "EasyR1 batch reward function compute_score.")

"""The verl and EasyR1 reward files, loaded by path and called exactly as those frameworks do.

verl (`verl/trainer/ppo/reward.py`) loads `custom_reward_function.path` with
`spec_from_file_location("custom_module", path)` and merges `reward_kwargs` into every call; its
per-sample manager (`naive.py`) calls `compute_score(data_source=, solution_str=, ground_truth=,
extra_info=)` with the row's `extra_info` dict (after setting `num_turns` in it), its batch manager
(`batch.py`) calls `compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)` with
object arrays of the batch's non-tensor columns. EasyR1 (`verl/workers/reward/function.py`) loads
`reward_function` as module `custom_reward_fn`, binds `reward_function_kwargs` with `partial`, and
its batch manager calls `reward_fn(reward_inputs)` with dicts `response`, `response_length`,
`ground_truth`, then logs every key of each result and uses `overall`.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stepgrpo.rewards.verl import SCORE_KEYS

GOOD = ("### Image Description:\nBars.\n### Rationales:\nAdd.\n### Let's think step by step.\n"
        "### Step 1:\nA = 4 and B = 7\n### Step 2:\n4 + 7 = 11\n### The final answer is: 11")
WRONG = GOOD.replace("is: 11", "is: 12")
HALF = GOOD.replace("A = 4 and B = 7", "the bars differ")  # 1 of 3 key steps shown
KEYS = [["A = 4"], ["B = 7"], ["4 + 7 = 11", "4 plus 7 is 11"]]


@cache
def reward_file(module: str) -> Path:
    """The path the docs tell users to pass: `python -m stepgrpo.rewards.<module> --path`."""
    out = subprocess.run([sys.executable, "-m", f"stepgrpo.rewards.{module}", "--path"],
                         capture_output=True, text=True, check=True).stdout.strip()
    path = Path(out)
    assert path.is_file() and path.name == f"{module}.py"
    return path


def load_like_verl(name: str, **reward_kwargs):
    """verl's get_custom_reward_fn: load the file as `custom_module`, call with reward_kwargs merged in."""
    spec = importlib.util.spec_from_file_location("custom_module", reward_file("verl"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw_fn = getattr(module, name)

    def call(*args, **kwargs):
        return raw_fn(*args, **{**kwargs, **reward_kwargs})

    return call


def verl_parquet_rows(tmp_path: Path) -> pd.DataFrame:
    """A verl dataset written and read back with pandas: list cells come back as numpy arrays."""
    rows = [
        {"data_source": "chartmath", "prompt": [{"role": "user", "content": "A + B?"}],
         "reward_model": {"style": "rule", "ground_truth": "11"},
         "extra_info": {"index": 0, "key_steps": KEYS, "choices": None, "alpha": None}},
        {"data_source": "chartmath", "prompt": [{"role": "user", "content": "Which is A + B?"}],
         "reward_model": {"style": "rule", "ground_truth": "C"},
         "extra_info": {"index": 1, "key_steps": KEYS, "choices": ["9", "10", "11"], "alpha": 0.5}},
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "train.parquet")
    frame = pd.read_parquet(tmp_path / "train.parquet")
    assert isinstance(frame.iloc[0]["extra_info"]["key_steps"], np.ndarray)  # the shape that crashed before
    return frame


def test_verl_naive_manager_call(tmp_path: Path) -> None:
    frame = verl_parquet_rows(tmp_path)
    compute_score = load_like_verl("compute_score")
    responses = [GOOD, WRONG.replace("is: 12", "is: C")]
    scores = []
    for i in range(len(frame)):
        item = frame.iloc[i]
        extra_info = item.get("extra_info", {})
        extra_info["num_turns"] = None  # what naive.py adds before the call
        scores.append(compute_score(data_source=item["data_source"], solution_str=responses[i],
                                    ground_truth=item["reward_model"]["ground_truth"], extra_info=extra_info))
    assert [tuple(score) for score in scores] == [SCORE_KEYS, SCORE_KEYS]
    assert scores[0]["score"] == pytest.approx(2.1)  # 1 + 0.1 * 3/3 + validity
    assert scores[1]["score"] == pytest.approx(2.5)  # "C" is option 11; the row's alpha 0.5
    assert scores[1]["answer_correct"] == 1.0 and scores[1]["key_step_fraction"] == 1.0


def test_verl_batch_manager_call(tmp_path: Path) -> None:
    frame = verl_parquet_rows(tmp_path)
    compute_score = load_like_verl("compute_score_batched", alpha=0.3)  # custom_reward_function.reward_kwargs
    # DataProto keeps non-tensor columns as object arrays: one entry per response (2 responses per prompt)
    data_sources = np.array([source for source in frame["data_source"] for _ in range(2)], dtype=object)
    extras = np.array([extra for extra in frame["extra_info"] for _ in range(2)], dtype=object)
    ground_truths = [model.get("ground_truth", None) for model in frame["reward_model"] for _ in range(2)]
    responses = [GOOD, HALF, WRONG, "no structure at all"]
    scores = compute_score(data_sources=data_sources, solution_strs=responses, ground_truths=ground_truths,
                           extra_infos=extras)
    assert [score["score"] for score in scores] == pytest.approx([2.3, 1 + 0.3 / 3 + 1, 0.5 + 1, 0.0])
    assert scores[1]["key_step_fraction"] == pytest.approx(1 / 3)
    assert scores[2]["answer_correct"] == 0.0 and scores[3]["step_validity"] == 0.0
    assert all(tuple(score) == SCORE_KEYS for score in scores)  # reward_extra_info needs one key set


def test_verl_batch_without_extra_info_and_with_bad_cells() -> None:
    from stepgrpo.rewards.verl import compute_score_batched

    assert [s["score"] for s in compute_score_batched(["x"], [GOOD], ["11"], None)] == pytest.approx([2.0])
    assert [s["score"] for s in compute_score_batched(["x"] * 3, [GOOD] * 3, [np.int64(11), None, float("nan")],
                                                      [float("nan"), None, {"key_steps": 5}])] == (
        pytest.approx([2.0, 1.0, 1.0]))  # no ground truth, or NaN: nothing matches it, validity still counts
    with pytest.raises(ValueError, match="3 solution_strs but 2 ground_truths"):
        compute_score_batched(["x"] * 3, [GOOD] * 3, ["11"] * 2, None)
    with pytest.raises(ValueError, match="extra_info field 'alpha'"):
        compute_score_batched(["x"], [GOOD], ["11"], [{"alpha": "big"}])


def load_like_easyr1(**reward_function_kwargs):
    """EasyR1's FunctionRewardManager: load as `custom_reward_fn`, bind the kwargs with partial."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", reward_file("easyr1"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["custom_reward_fn"]
    return partial(module.compute_score, **reward_function_kwargs)


def test_easyr1_batch_manager_call() -> None:
    reward_fn = load_like_easyr1(alpha=0.5)
    # non_tensor_batch["ground_truth"]: the dataset's answer column, as an object array
    ground_truth = np.array([json.dumps({"solution": "11", "key_steps": KEYS}),
                             json.dumps({"solution": "C", "key_steps": KEYS, "choices": {"C": "11"}}),
                             "11",
                             {"solution": np.int64(11), "key_steps": np.array([np.array(["A = 4"])], dtype=object)}],
                            dtype=object)
    responses = [HALF, GOOD.replace("is: 11", "is: (C)"), GOOD, WRONG]
    reward_inputs = [{"response": response, "response_length": len(response.split()), "ground_truth": ground_truth[i]}
                     for i, response in enumerate(responses)]
    scores = reward_fn(reward_inputs)
    assert [score["overall"] for score in scores] == pytest.approx([1 + 0.5 / 3 + 1, 2.5, 2.0, 0.5 + 1])
    assert all(set(score) == {"overall", *SCORE_KEYS[1:]} for score in scores)
    assert scores[3]["answer_correct"] == 0.0 and scores[3]["key_step_fraction"] == 1.0
    # what the manager does with the result
    metrics: dict[str, list[float]] = {}
    for score in scores:
        for key, value in score.items():
            metrics.setdefault(key, []).append(value)
    assert metrics["step_validity"] == [1.0, 1.0, 1.0, 1.0]


def test_easyr1_refuses_sequential_use_and_reads_plain_answers_as_answers() -> None:
    from stepgrpo.rewards.easyr1 import compute_score

    with pytest.raises(ValueError, match="reward_type=batch"):
        compute_score({"response": GOOD, "response_length": 1, "ground_truth": "11"})
    # an answer that happens to look like JSON stays an answer; a JSON object without `solution` too
    assert compute_score([{"response": GOOD.replace("is: 11", "is: [1, 2]"), "ground_truth": "[1, 2]"}])[0][
        "answer_correct"] == 1.0
    assert compute_score([{"response": GOOD, "ground_truth": '{"x": 1}'}])[0]["answer_correct"] == 0.0
    # key steps a fork passes beside ground_truth
    assert compute_score([{"response": GOOD, "ground_truth": "11", "key_steps": KEYS}])[0]["overall"] == (
        pytest.approx(2.1))


def test_reward_file_helper_prints_usage_without_path() -> None:
    out = subprocess.run([sys.executable, "-m", "stepgrpo.rewards.verl"], capture_output=True, text=True, check=True)
    assert "--path" in out.stdout and "compute_score_batched" in out.stdout

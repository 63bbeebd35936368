"""The adapters called exactly as TRL's GRPOTrainer._calculate_rewards and verl's reward manager call them."""

import json

import pytest

from stepgrpo.rewards import step_accuracy
from stepgrpo.rewards.trl import (
    make_step_accuracy_reward,
    outcome_reward,
    step_accuracy_reward,
    step_validity_reward,
)
from stepgrpo.rewards.verl import compute_score

GOOD = ("### Image Description:\nBars.\n### Rationales:\nAdd.\n### Let's think step by step.\n"
        "### Step 1:\nA = 4 and B = 7\n### Step 2:\n4 + 7 = 11\n### The final answer is: 11")
WRONG = GOOD.replace("is: 11", "is: 12")
KEYS = [["A = 4"], ["B = 7"], ["4 + 7 = 11"]]


class Recorder:
    def __init__(self):
        self.metrics, self.extra = {}, {}

    def log_metric(self, name, value):
        self.metrics[name] = value

    def log_extra(self, column, values):
        self.extra[column] = values


def trl_kwargs(rows, recorder, generations=2):
    """Rebuild what GRPOTrainer passes: every dataset column but prompt, repeated per generation."""
    inputs = [row for row in rows for _ in range(generations)]
    keys = [key for key in inputs[0] if key not in ("prompt", "completion", "completion_ids")]
    kwargs = {key: [example[key] for example in inputs] for key in keys}
    kwargs.update(trainer_state=object(), log_extra=recorder.log_extra, log_metric=recorder.log_metric)
    return inputs, kwargs


@pytest.mark.parametrize("conversational", [False, True])
def test_trl_call_contract(conversational):
    rows = [{"prompt": [{"role": "user", "content": "q1"}], "solution": "11", "key_steps": KEYS, "choices": None},
            {"prompt": [{"role": "user", "content": "q2"}], "solution": "C", "key_steps": KEYS,
             "choices": json.dumps({"A": "9", "B": "10", "C": "11"})}]
    texts = [GOOD, WRONG, GOOD, WRONG.replace("is: 12", "is: C")]
    completions = [[{"role": "assistant", "content": t}] for t in texts] if conversational else texts
    recorder = Recorder()
    inputs, kwargs = trl_kwargs(rows, recorder)
    prompts = [x["prompt"] for x in inputs]
    accuracy = step_accuracy_reward(prompts=prompts, completions=completions, completion_ids=[[1]] * 4, **kwargs)
    validity = step_validity_reward(prompts=prompts, completions=completions, completion_ids=[[1]] * 4, **kwargs)
    outcome = outcome_reward(prompts=prompts, completions=completions, completion_ids=[[1]] * 4, **kwargs)
    assert accuracy == pytest.approx([1.1, 0.1, 1.1, 1.1])
    assert validity == [1.0, 1.0, 1.0, 1.0]
    assert outcome == [1.0, 0.0, 1.0, 1.0]
    assert recorder.metrics["step_accuracy/answer_correct"] == pytest.approx(0.75)
    assert recorder.metrics["step_accuracy/key_step_fraction"] == pytest.approx(1.0)
    assert recorder.metrics["step_validity/valid"] == 1.0
    assert recorder.extra["answer"] == ["11", "12", "11", "C"]


def test_adapters_work_without_trainer_hooks():
    assert step_accuracy_reward([GOOD], solution=["11"], key_steps=[KEYS]) == pytest.approx([1.1])
    assert step_accuracy_reward([GOOD], solution=["11"]) == [1.0]
    assert step_validity_reward(["nothing"]) == [0.0]
    assert step_accuracy_reward.__name__ == "step_accuracy_reward"


def test_factory_alpha_and_format():
    think = "<think>Step 1: A = 4\nStep 2: 4 + 7 = 11</think><answer>11</answer>"
    reward = make_step_accuracy_reward(alpha=0.3, fmt="think")
    assert reward([think], solution=["11"], key_steps=[KEYS]) == pytest.approx([1 + 0.3 * 2 / 3])
    assert reward.__name__ == "step_accuracy_reward"


def test_verl_compute_score():
    result = compute_score("chartmath", GOOD, "11", {"key_steps": KEYS, "index": 0})
    assert result["score"] == pytest.approx(2.1)
    assert result["step_accuracy"] == pytest.approx(step_accuracy(GOOD, "11", KEYS))
    assert result["step_validity"] == 1.0 and result["answer_correct"] == 1.0
    assert compute_score("chartmath", WRONG, "11", None)["score"] == pytest.approx(1.0)
    mcq = compute_score("x", GOOD.replace("is: 11", "is: (C)"), "C", {"choices": {"C": "11"}, "alpha": 0.5,
                                                                      "key_steps": KEYS})
    assert mcq["score"] == pytest.approx(2.5)

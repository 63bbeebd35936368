"""Per-step rewards: credit where it was earned, and the same total as the scalar reward."""

from __future__ import annotations

import pytest

from stepgrpo.advantages import step_rewards
from stepgrpo.rewards import check_answer, reasoning_validity, step_accuracy

KEY_STEPS = {"Steps": [["3 + 4 = 7", "3+4=7"], ["bars are 3 and 4"], ["multiply by 10"]]}

GOOD = (
    "### Image Description:\nA bar chart; the bars are 3 and 4.\n"
    "### Rationales:\nWe add the bars.\n"
    "### Let's think step by step.\n"
    "### Step 1:\nRead the chart: the bars are 3 and 4.\n"
    "### Step 2:\nAdd them: 3 + 4 = 7\n"
    "### The final answer is: 7"
)

VARIANTS = {
    "good": GOOD,
    "wrong answer": GOOD.replace("answer is: 7", "answer is: 8"),
    "no answer": GOOD.split("### The final answer")[0],
    "empty answer": GOOD.replace("answer is: 7", "answer is: "),
    "renumbered": GOOD.replace("Step 2:", "Step 3:"),
    "no rationale": GOOD.replace("### Rationales:\nWe add the bars.\n", ""),
    "no description": GOOD.replace("### Image Description:\nA bar chart; the bars are 3 and 4.\n", ""),
    "swapped analysis": GOOD.replace("### Image Description:\nA bar chart; the bars are 3 and 4.\n", "").replace(
        "### Let's think", "### Image Description:\nA chart.\n### Let's think"),
    "answer first": GOOD.replace("### Step 2:", "### The final answer is: 7\n### Step 2:").rsplit("\n###", 1)[0],
    "two answers": GOOD + "\n### The final answer is: 7",
    "empty step": GOOD.replace("Add them: 3 + 4 = 7", ""),
    "lead text": "Sure, here it is.\n" + GOOD,
    "no sections": "The answer is 7 because 3 + 4 = 7.",
    "no steps": GOOD.split("### Let's think")[0] + "### The final answer is: 7",
    "multi-byte": GOOD.replace("A bar chart", "Ein Balkendiagramm — 日本語 😀"),
}


def spans_of(result, text):
    return {label: text[start:end] for (start, end), label in zip(result.spans, result.labels, strict=True)}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_spans_partition_and_sum_equals_scalar_reward_minus_validity_weight(name):
    text = VARIANTS[name]
    result = step_rewards(text, "7", KEY_STEPS)
    assert result.spans[0][0] == 0 and result.spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(result.spans, result.spans[1:], strict=False))
    assert len(result.labels) == len(result.rewards) == len(result.spans)
    scalar = step_accuracy(text, "7", KEY_STEPS) + reasoning_validity(text)
    assert sum(result.rewards) == pytest.approx(scalar - 1.0)
    weights = {"outcome": 2.0, "step_validity": 0.5}
    weighted = step_rewards(text, "7", KEY_STEPS, weights=weights)
    assert sum(weighted.rewards) == pytest.approx(2.0 * check_answer(text, "7") + 0.5 * reasoning_validity(text) - 0.5)


def test_credit_sits_where_earned():
    result = step_rewards(GOOD, "7", KEY_STEPS)
    assert result.labels == ("description", "rationale", "preamble", "step 1", "step 2", "answer")
    rewards = dict(zip(result.labels, result.rewards, strict=True))
    # 2 of 3 key steps matched, α = 0.1: each is worth 0.1 / 3 on the step that first contains it
    assert rewards["step 1"] == pytest.approx(0.1 / 3)
    assert rewards["step 2"] == pytest.approx(0.1 / 3)
    assert rewards["answer"] == 1.0
    assert rewards["description"] == rewards["rationale"] == rewards["preamble"] == 0.0
    assert spans_of(result, GOOD)["step 2"] == "### Step 2:\nAdd them: 3 + 4 = 7\n"


def test_key_step_credited_at_first_match_only():
    text = GOOD.replace("Add them: 3 + 4 = 7", "Add them: 3 + 4 = 7\n### Step 3:\nCheck: 3 + 4 = 7")
    twice = step_rewards(text, "7", {"Steps": [["3 + 4 = 7"]]}, alpha=0.5)
    rewards = dict(zip(twice.labels, twice.rewards, strict=True))
    assert rewards["step 2"] == pytest.approx(0.5) and rewards["step 3"] == 0.0 and rewards["step 1"] == 0.0
    # a key step whose words span two step bodies is credited to the step that completes it
    fuzzy = step_rewards(GOOD, "7", {"Steps": [["the bars are 3 and 4 add them"]]})
    assert dict(zip(fuzzy.labels, fuzzy.rewards, strict=True))["step 2"] == pytest.approx(0.1)


def test_no_answer_no_accuracy_credit():
    result = step_rewards(VARIANTS["no answer"], "7", KEY_STEPS, weights={"step_accuracy": 1.0})
    assert result.rewards == (0.0,) * len(result.rewards)


@pytest.mark.parametrize(("name", "charged"), [
    ("renumbered", "step 3"),
    ("no rationale", "preamble"),  # where the rationale should have been
    ("no description", "rationale"),
    ("swapped analysis", "rationale"),  # validity: "rationale section comes before description"
    ("answer first", "step 2"),  # the first step after a premature answer
    ("two answers", "answer#2"),
    ("empty step", "step 2"),
    ("empty answer", "answer"),
    ("no answer", "step 2"),  # the end: the last section
    ("no steps", "answer"),
    ("no sections", "lead"),
])
def test_validity_failure_charged_where_order_breaks(name, charged):
    text = VARIANTS[name]
    result = step_rewards(text, "7", KEY_STEPS, weights={"step_validity": 1.0})
    labels = list(result.labels)
    if charged.endswith("#2"):
        index = [i for i, label in enumerate(labels) if label == charged[:-2]][1]
    else:
        index = labels.index(charged)
    expected = [0.0] * len(labels)
    expected[index] = -1.0
    assert list(result.rewards) == expected, (labels, result.rewards)


def test_valid_completion_has_no_validity_penalty_and_lead_span():
    result = step_rewards(VARIANTS["lead text"], "7", KEY_STEPS, weights={"step_validity": 1.0})
    assert result.labels[0] == "lead" and result.spans[0] == (0, len("Sure, here it is.\n"))
    assert set(result.rewards) == {0.0}


def test_think_format():
    text = "<think>\nStep 1: the bars are 3 and 4.\nStep 2: 3 + 4 = 7\n</think>\n<answer>7</answer>"
    result = step_rewards(text, "7", KEY_STEPS, fmt="think")
    rewards = dict(zip(result.labels, result.rewards, strict=True))
    assert rewards["answer"] == 1.0 and rewards["step 2"] == pytest.approx(0.1 / 3)
    assert sum(result.rewards) == pytest.approx(step_accuracy(text, "7", KEY_STEPS, fmt="think")
                                                 + reasoning_validity(text, "think") - 1.0)


def test_unknown_reward_name_is_refused():
    with pytest.raises(ValueError, match="unknown reward functions"):
        step_rewards(GOOD, "7", KEY_STEPS, weights={"format": 1.0})

"""No reward function raises or takes more than a second, whatever the model writes."""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepgrpo.rewards import check_answer, match_key_step, reasoning_validity, step_accuracy, validity_report
from stepgrpo.rewards.trl import step_accuracy_reward, step_validity_reward

HEADERS = ["### Image Description:", "### Rationales:", "### Let's think step by step.", "### Step 1:",
           "### Step 2:", "### Step 12:", "**Step 3:**", "### The final answer is:", "<think>", "</think>",
           "<answer>", "</answer>", "\\frac{", "\\sqrt{", "^{", "}", "{", "10^{10^{10}}", "9^9^9", "$", "\\boxed{",
           "(B)", "B.", "yes", "1,000", "×", "÷", "π", "°", "\r\n", "\n", " ", "0.5", "1/2", "=", "AB"]
pieces = st.one_of(st.sampled_from(HEADERS), st.text(max_size=40))
completions = st.lists(pieces, max_size=60).map("".join)
key_steps = st.lists(st.lists(st.one_of(st.sampled_from(HEADERS), st.text(max_size=20)), max_size=3), max_size=6)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bounded(call):
    start = time.perf_counter()
    result = call()
    assert time.perf_counter() - start < 1.0
    return result


@FUZZ
@given(completions, st.text(max_size=30), key_steps)
def test_step_accuracy_never_raises(completion, truth, keys):
    value = bounded(lambda: step_accuracy(completion, truth, keys))
    assert value == 0.0 or 0.0 <= value <= 1.1


@FUZZ
@given(completions)
def test_validity_never_raises(completion):
    assert bounded(lambda: reasoning_validity(completion)) in (0.0, 1.0)
    assert bounded(lambda: reasoning_validity(completion, "think")) in (0.0, 1.0)
    assert validity_report(completion).reason


@FUZZ
@given(completions, st.one_of(st.sampled_from(HEADERS), st.text(max_size=30)),
       st.one_of(st.none(), st.dictionaries(st.sampled_from("ABCD"), st.text(max_size=10), max_size=4)))
def test_check_answer_never_raises(completion, truth, choices):
    assert bounded(lambda: check_answer(completion, truth, choices)) in (True, False)


@FUZZ
@given(completions, st.lists(st.text(max_size=40), max_size=4))
def test_match_never_raises(text, alternatives):
    assert bounded(lambda: match_key_step(text, alternatives)) in (True, False)


@FUZZ
@given(st.lists(completions, min_size=1, max_size=4))
def test_trl_adapters_never_raise(batch):
    size = len(batch)
    rewards = bounded(lambda: step_accuracy_reward(batch, solution=["3"] * size, key_steps=[[["x = 3"]]] * size))
    assert len(rewards) == size
    assert len(step_validity_reward(batch)) == size


def test_megabytes_of_text_stay_bounded():
    huge = ("### Step 1:\n" + "12/2 = 6 and AB is half of AD. " * 40_000 + "\n### The final answer is: "
            + "{" * 500 + "7" * 200_000)
    bounded(lambda: step_accuracy(huge, "7", [["AB is half of AD"], ["x = 4"]]))
    bounded(lambda: reasoning_validity(huge))

import pytest

from stepgrpo.rewards import ALPHA, accuracy_report, step_accuracy

HEAD = ("### Image Description:\nBars A = 4 and B = 7 and C = 9.\n### Rationales:\nAdd.\n"
        "### Let's think step by step.\n")
KEYS = [["A = 4", "A is 4"], ["B = 7", "B is 7"], ["4 + 7 = 11"], ["x = 100"]]


def completion(steps, answer="11"):
    body = "".join(f"### Step {i}:\n{s}\n" for i, s in enumerate(steps, 1))
    return HEAD + body + (f"### The final answer is: {answer}" if answer is not None else "")


@pytest.mark.parametrize(("steps", "answer", "expected"), [
    (["A = 4", "B = 7", "4 + 7 = 11"], "11", 1 + ALPHA * 3 / 4),
    (["A = 4", "B = 7", "4 + 7 = 11"], "12", ALPHA * 3 / 4),
    (["A = 4", "B = 7", "4 + 7 = 11"], None, 0.0),  # paper: no answer → 0 (official code: α·k)
    (["the answer follows"], "11", 1.0),
    (["A is 4"], "11", 1 + ALPHA / 4),
])
def test_r_auc_cases(steps, answer, expected):
    assert step_accuracy(completion(steps, answer), "11", KEYS) == pytest.approx(expected)


def test_key_steps_only_count_inside_steps():
    # "A = 4" etc. appear in the description; only the step text counts, as in the paper code
    report = accuracy_report(completion(["4 + 7 = 11"]), "11", KEYS)
    assert report.matched == (False, False, True, False)
    assert report.key_step_fraction == pytest.approx(0.25)


def test_alpha_and_no_key_steps():
    assert step_accuracy(completion(["A = 4"]), "11", KEYS, alpha=1.0) == pytest.approx(1.25)
    assert step_accuracy(completion(["A = 4"]), "11", []) == 1.0
    assert step_accuracy(completion(["A = 4"]), "11", {"Steps": [["A = 4"]]}) == pytest.approx(1.1)


def test_choices_pass_through():
    options = {"A": "9", "B": "10", "C": "11", "D": "12"}
    assert step_accuracy(completion(["4 + 7 = 11"], "(C) 11"), "C", KEYS, choices=options) == pytest.approx(1.025)
    assert step_accuracy(completion(["4 + 7 = 11"], "11"), "C", KEYS, choices=options) == pytest.approx(1.025)
    assert step_accuracy(completion(["4 + 7 = 11"], "D"), "C", KEYS, choices=options) == pytest.approx(0.025)

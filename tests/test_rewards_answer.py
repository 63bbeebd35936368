import time

import pytest

from stepgrpo.rewards import answers_match, check_answer, extract_answer

CHOICES = {"A": "10 cm", "B": "12 cm", "C": "14 cm", "D": "16 cm"}
BODY = ("### Image Description:\nA chart.\n### Rationales:\nRead it.\n### Let's think step by step.\n"
        "### Step 1:\n6/2 = 3 and 13 - 10 = 3\n")

MATCH_CASES = [
    # multiple choice: letter forms and option text
    ("B", "B", None, True), ("(B)", "B", None, True), ("B.", "B", None, True), ("b", "B", None, True),
    ("B: 12 cm", "B", CHOICES, True), ("B) 12 cm", "B", CHOICES, True), ("Option B", "B", CHOICES, True),
    ("The answer is B", "B", CHOICES, True), ("12 cm", "B", CHOICES, True), ("12", "B", CHOICES, True),
    ("(B)", "(B)", CHOICES, True), ("B", "12 cm", CHOICES, True),
    ("A", "B", None, False), ("C: 14 cm", "B", CHOICES, False), ("10 cm", "B", CHOICES, False),
    ("A triangle", "B", CHOICES, False), ("", "B", None, False),
    # yes / no
    ("Yes", "yes", None, True), ("yes.", "Yes", None, True), ("No, it is not.", "No", None, True),
    ("No", "Yes", None, False), ("Yes", "No", None, False),
    # numbers and LaTeX through math-verify
    ("3", "3", None, True), ("3 cm", "3", None, True), ("3 square units", "3", None, True),
    ("\\frac{1}{2}", "0.5", None, True), ("$\\frac{6}{2}$", "3", None, True), ("\\boxed{42}", "42", None, True),
    ("1,000", "1000", None, True), ("45^\\circ", "45", None, True), ("x = 3", "3", None, True),
    ("12.0", "12", None, True), ("\\sqrt{2}", "\\sqrt{2}", None, True), ("2\\sqrt{2}", "\\sqrt{8}", None, True),
    ("13", "3", None, False), ("3.5", "3", None, False), ("0.57", "0.75", None, False), ("4", "3", None, False),
    # plain text
    ("Red", "red", None, True), ("the cat", "The cat.", None, True), ("blue", "red", None, False),
    # one answer only (issue 11): candidates, contradictions and bounds are wrong
    ("A or D", "A", CHOICES, False), ("C, B", "B", CHOICES, False), ("(B) and (D)", "B", CHOICES, False),
    ("D: 12 cm", "D", CHOICES, False), ("C is wrong, it is B", "C", CHOICES, False), ("B/D", "D", None, False),
    ("7 or 8", "8", None, False), ("8, 9", "8", None, False), ("\\boxed{8} \\text{ and } \\boxed{9}", "8", None, False),
    ("8 \\approx 9", "8", None, False), ("8~9", "8", None, False), ("x = 8 \\lor x = 9", "8", None, False),
    ("between 7 and 9", "8", None, False), ("no more than 8", "8", None, False), ("800%", "8", None, False),
    ("No/Yes", "no", None, False), ("true or false", "true", None, False), ("Yes. No.", "yes", None, False),
    ("8 kg", "8 g", None, False), ("8 km", "8 m", None, False), ("8%", "8", None, False),
    # ... and equivalent forms of it stay right
    ("(D)", "D", CHOICES, True), ("D.", "D", CHOICES, True), ("D: 16 cm", "D", CHOICES, True),
    ("16 cm", "D", CHOICES, True), ("\\boxed{8}", "8", None, True), ("8.00", "8", None, True),
    ("32/4", "8", None, True), ("$8$", "8", None, True), ("eight", "8", None, True), ("forty two", "42", None, True),
    ("8e3", "8000", None, True),
    ("8 \\cdot 10^3", "8000", None, True), ("25%", "0.25", None, True), ("25%", "25\\%", None, True),
    ("8 kg", "8 kilograms", None, True), ("8 meters", "8 m", None, True), ("a square.", "square", None, True),
    ("8\u200b", "8", None, True), ("\ufeff8", "8", None, True),
]


@pytest.mark.parametrize(("predicted", "truth", "choices", "expected"), MATCH_CASES)
def test_answers_match_table(predicted, truth, choices, expected):
    assert answers_match(predicted, truth, choices) is expected


def test_answer_is_read_only_from_the_final_answer_section():
    # the official code gives 1.0 here: math_verify finds "3" in the steps
    assert check_answer(BODY, "3") is False
    assert check_answer(BODY + "### The final answer is: 3", "3") is True
    assert check_answer(BODY + "### The final answer is: 4", "3") is False
    assert check_answer(BODY + "### The final answer is:", "3") is False


def test_ground_truth_may_be_a_full_reference():
    assert check_answer(BODY + "### The final answer is: 3", "### The final answer is: 3") is True
    assert check_answer(BODY + "### The final answer is: B.", BODY + "### The final answer is: B") is True


def test_extract_answer_cleans_wrappers():
    assert extract_answer(BODY + "### The final answer is: $\\boxed{7}$.") == "7"
    assert extract_answer(BODY + "### The final answer is: **B**") == "B"
    assert extract_answer(BODY) is None
    assert extract_answer("<think>Step 1: x</think><answer> 9 </answer>", "think") == "9"


@pytest.mark.parametrize("evil", [
    "10^{1000000}", "10^{10^{10}}", "9^{9^{9}}", "2**3**4**5", "{" * 400 + "1" + "}" * 400,
    "\\frac{" * 300 + "1" + "}{2}" * 300, "9" * 100_000, "1000000!", "x" * 3_000_000,
])
def test_adversarial_answers_are_bounded_in_time(evil):
    start = time.perf_counter()
    assert check_answer(BODY + "### The final answer is: " + evil, "3") is False
    assert answers_match(evil, evil + "1") in (True, False)
    assert time.perf_counter() - start < 1.0

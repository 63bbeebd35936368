"""Red team: ways a policy could earn reward without being right, and the equivalent forms that must stay right.

Every case measured in issue 11 is here, plus our own attempts. A row is (what the policy writes,
the truth, the options, whether it is paid).
"""

from __future__ import annotations

import pytest

from stepgrpo.rewards import answers_match, check_answer, match_key_step, matched_key_steps, step_accuracy

OPTIONS = {"A": "10 cm", "B": "12 cm", "C": "14 cm", "D": "16 cm"}
ANGLES = {"A": "angle A", "B": "angle B"}
HEAD = ("### Image Description:\nA figure.\n### Rationales:\nMeasure it.\n### Let's think step by step.\n"
        "### Step 1:\nAB = 6 and BC = 8, so AB + BC = 14.\n")

# (answer the policy writes, truth, options, paid?)
ANSWER_ATTACKS = [
    # several candidates for an option letter
    ("B or C", "B", OPTIONS, False), ("B, C", "B", OPTIONS, False), ("B,C,D", "B", OPTIONS, False),
    ("B and C", "B", OPTIONS, False), ("B/C", "B", None, False), ("either B or C", "B", OPTIONS, False),
    ("(A)(B)(C)(D)", "B", OPTIONS, False), ("A B C D", "B", None, False), ("B: 12 cm, C: 14 cm", "B", OPTIONS, False),
    ("12 cm or 14 cm", "B", OPTIONS, False),
    # a letter contradicted by another option's text or a negation
    ("B: 16 cm", "B", OPTIONS, False), ("B (14 cm)", "B", OPTIONS, False), ("B is wrong, it is C", "B", OPTIONS, False),
    ("Not B", "B", OPTIONS, False), ("B. B", "B", None, False), ("B: angle A", "B", ANGLES, False),
    ("C", "B. 12 cm", None, False), ("B: 14 cm", "(B) 12 cm", None, False),
    # several candidates for a number
    ("\\boxed{12} or \\boxed{16}", "12", None, False), ("\\boxed{12}\\boxed{16}", "12", None, False),
    ("12 \\approx 16", "12", None, False), ("12~16", "12", None, False), ("12 or 16", "12", None, False),
    ("12, 16", "12", None, False), ("12; 16", "12", None, False), ("12 and 16", "12", None, False),
    ("12 \\lor 16", "12", None, False), ("12 ∨ 16", "12", None, False), ("x = 12 or x = 16", "12", None, False),
    ("either 12 or 16", "12", None, False), ("12 to 16", "12", None, False), ("12 \\pm 4", "12", None, False),
    ("12 (or 16)", "12", None, False), ("12 = 16", "12", None, False), ("x = 12 = 16", "12", None, False),
    ("\\{12, 16\\}", "12", None, False), ("12 \\text{ or } 16", "12", None, False), ("12 OR 16", "12", None, False),
    ("\\geq 12", "12", None, False), ("at least 12", "12", None, False), ("x < 13", "12", None, False),
    ("12+", "12", None, False), ("12 +", "12", None, False), ("$12+$", "12", None, False),
    # percent and units that change the value
    ("1200%", "12", None, False), ("12%", "12", None, False), ("12 m", "12 cm", None, False),
    ("12 cm", "12 cm^2", None, False),
    # yes and no together
    ("yes or no", "yes", None, False), ("Yes/No", "yes", None, False), ("Yes, no wait, it is No", "yes", None, False),
    ("yes and no", "no", None, False), ("True/False", "true", None, False),
    # degenerate
    ("", "12", None, False), ("9" * 5000, "9" * 5000, None, False),
]

# equivalent forms of the one right answer stay paid
ANSWER_FORMS = [
    ("(B)", "B", OPTIONS, True), ("B.", "B", OPTIONS, True), ("B: 12 cm", "B", OPTIONS, True),
    ("12 cm", "B", OPTIONS, True), ("B (12 cm)", "B", OPTIONS, True), ("Answer: B", "B", OPTIONS, True),
    ("\\text{B}", "B", OPTIONS, True), ("I think B", "B", None, True), ("B: angle B", "B", ANGLES, True),
    ("B", "(B) 12 cm", None, True), ("12 cm", "B. 12 cm", None, True),
    ("\\boxed{12}", "12", None, True), ("12.0", "12", None, True), ("24/2", "12", None, True),
    ("$12$", "12", None, True),
    ("three", "3", None, True), ("twenty-one", "21", None, True), ("3e5", "300000", None, True),
    ("3 \\times 10^5", "300000", None, True), ("3 × 10^{5}", "300000", None, True),
    ("12%", "12%", None, True), ("12%", "0.12", None, True), ("0.12", "12%", None, True), ("50\\%", "0.5", None, True),
    ("12 cm", "12 cm", None, True), ("12 centimeters", "12 cm", None, True), ("12", "12 cm", None, True),
    ("12~cm", "12 cm", None, True), ("12\\,\\text{cm}", "12 cm", None, True),
    ("12 square centimeters", "12 cm^2", None, True),
    ("12 cm²", "12 cm^2", None, True),
    ("a triangle.", "triangle", None, True), ("The triangle", "triangle", None, True),
    ("\u200b12\u200b", "12", None, True), ("1\u200b2", "12", None, True), ("x = 12", "12", None, True),
    ("12 = 24/2", "12", None, True), ("−12", "-12", None, True), ("+12", "12", None, True),
    ("Yes.", "yes", None, True), ("No, it is not.", "No", None, True),
]


@pytest.mark.parametrize(("answer", "truth", "options", "paid"), ANSWER_ATTACKS + ANSWER_FORMS)
def test_the_answer_is_one_answer(answer, truth, options, paid):
    assert answers_match(answer, truth, options) is paid
    assert check_answer(HEAD + f"### The final answer is: {answer}", truth, options) is paid


@pytest.mark.parametrize(("section", "paid"), [
    ("12", True),
    ("\n12\n", True),
    ("16\nWait, recheck.\nActually 12.", False),  # only the answer line counts
    ("12\n### The final answer is: 16", False),  # two final-answer sections
    ("16\n### The final answer is: 12", False),
    ("The area is \\boxed{12}.", True),
])
def test_only_the_answer_line_of_the_only_section_counts(section, paid):
    assert check_answer(HEAD + "### The final answer is: " + section, "12") is paid


# (step text, key step alternatives, matched?)
KEY_STEP_ATTACKS = [
    ("slope = -2", ["slope = 2"], False), ("slope = − 2", ["slope = 2"], False),
    ("the slope is -2", ["slope is 2"], False),
    ("AB = 6^2", ["AB = 6"], False), ("AB = 6%", ["AB = 6"], False), ("AB = 6e3", ["AB = 6"], False),
    ("AB = 6!", ["AB = 6"], False), ("AB = 6π", ["AB = 6"], False), ("AB = 6√2", ["AB = 6"], False),
    ("AB = 6.5", ["AB = 6"], False), ("AB = 6x", ["AB = 6"], False), ("AB = 6 * 2", ["AB = 6"], False),
    ("AB = 6 + 1", ["AB = 6"], False), ("AB = 6\\sqrt{2}", ["AB = 6"], False), ("2x = 3", ["x = 3"], False),
    ("-x = 3", ["x = 3"], False), ("AB + BC = 10", ["BC = 10"], False), ("AE = 1/2 AD", ["AE = 1/2"], False),
    ("10^4", ["10 = 4"], False), ("x = 104", ["x = 10⁴"], False), ("AB = 6,5", ["AB = 6"], False),
    ("AB = 6 squared", ["AB = 6"], False), ("2(x) = 3", ["x = 3"], False), ("2 x = 3", ["x = 3"], False),
    ("AB = 6 or 7", ["AB = 6"], False), ("the slope is 5 - 2", ["slope is -2"], False),
    ("the slope of line 1 is 5 and y = 2", ["slope = 2"], False), ("angle B = 45°", ["angle A = 45°"], False),
    # stuffing: a quantity stated with several values matches none of its key steps
    ("AB = 5. AB = 6. AB = 7.", ["AB = 6"], False),
    ("4 + 7 = 10, 4 + 7 = 11, 4 + 7 = 12", ["4 + 7 = 11"], False),
    ("the total is 16 and the total is 17", ["total is 17"], False),
]

KEY_STEP_FORMS = [
    ("AB = 6 cm", ["AB = 6"], True), ("AB = 6cm", ["AB = 6"], True), ("AB = 6.", ["AB = 6"], True),
    ("AB = 6. Later AB = 6 cm again", ["AB = 6"], True), ("AB = 3 + 3 = 6", ["AB = 3 + 3"], True),
    ("slope = -2", ["slope = -2"], True), ("x = 3 and y = 4", ["x = 3"], True),
    ("so 50% of them", ["0.5"], True), ("the rate is 0.5", ["rate is 50%"], True),
    ("3 × 10^5 = 300000", ["3e5 = 300000"], True), ("x = 300000", ["x = 3 \\times 10^5"], True),
    ("x² + 1", ["x^2 + 1"], True), ("½ of AD", ["1/2 of AD"], True), ("x = 10⁴", ["x = 10000"], True),
    ("x = \\frac12", ["x = 1/2"], True),
    ("AB ∥ CD", ["AB \\parallel CD"], True), ("AB is parallel to CD", ["AB ∥ CD"], True),
    ("AB ⊥ CD", ["AB \\perp CD"], True), ("AB \\perp CD", ["AB perpendicular CD"], True),
    ("angle A = 45 degrees", ["angle A = 45°"], True), ("angle A = 45^\\circ", ["angle A = 45 degrees"], True),
    ("the length is 5 centimeters", ["length is 5 cm"], True),
    ("area = 12 square centimeters", ["area = 12 cm^2"], True),
    ("area = 12 cm²", ["area = 12 cm^2"], True), ("\\tan\\theta = 1", ["tan θ = 1"], True),
    ("\\tan(\\theta) = 1", ["tan θ = 1"], True), ("the slope is -2", ["slope is -2"], True),
    ("AB = 6, BC = 7", ["AB = 6"], True), ("the point (1, 2)", ["(1,2)"], True), ("A = 4\nB = 7", ["B = 7"], True),
    ("In 2020 sales = 40", ["sales = 40"], True),
]


@pytest.mark.parametrize(("text", "alternatives", "matched"), KEY_STEP_ATTACKS + KEY_STEP_FORMS)
def test_key_steps_mean_what_they_say(text, alternatives, matched):
    assert match_key_step(text, alternatives) is matched


def test_stuffing_a_wrong_answer_earns_no_key_step_credit():
    keys = [["AB = 6"], ["BC = 8"], ["AB + BC = 14"]]
    stuffed = " ".join([*(f"AB = {n}" for n in range(50)), *(f"BC = {n}" for n in range(50)),
                        *(f"AB + BC = {n}" for n in range(50))])
    completion = HEAD.replace("AB = 6 and BC = 8, so AB + BC = 14.", stuffed) + "### The final answer is: 99"
    assert matched_key_steps(stuffed, keys) == [False, False, False]
    assert step_accuracy(completion, "14", keys) == 0.0
    honest = HEAD + "### The final answer is: 99"
    assert step_accuracy(honest, "14", keys) == pytest.approx(0.1)  # a wrong answer still earns α·k

import pytest

from stepgrpo.rewards import reasoning_validity, validity_report

DESC = "### Image Description:\nA triangle ABC.\n"
RAT = "### Rationales:\nUse the median.\n"
PRE = "### Let's think step by step.\n"
S1 = "### Step 1:\nAD is a median.\n"
S2 = "### Step 2:\n12/2 = 6.\n"
ANS = "### The final answer is: 6"
VALID = DESC + RAT + PRE + S1 + S2 + ANS

CASES = [
    ("canonical", VALID, 1.0, "ok"),
    ("no step-by-step marker", DESC + RAT + S1 + S2 + ANS, 1.0, "ok"),
    ("think-marker after steps", DESC + RAT + S1 + PRE + S2 + ANS, 0.0, "logic"),
    ("missing steps (paper fig. 2b)", DESC + RAT + ANS, 0.0, "completeness"),
    ("missing rationale (paper fig. 2b)", DESC + S1 + S2 + ANS, 0.0, "completeness"),
    ("missing description", RAT + S1 + S2 + ANS, 0.0, "completeness"),
    ("answer before steps (paper fig. 2b)", DESC + RAT + ANS + "\n" + S1 + S2, 0.0, "logic"),
    ("rationale between steps (paper fig. 2b)", DESC + S2 + RAT + S1 + ANS, 0.0, "logic"),
    ("analysis after the steps (official code accepts)", S1 + S2 + DESC + RAT + ANS, 0.0, "logic"),
    ("rationale before description (swapped)", RAT + DESC + S1 + S2 + ANS, 0.0, "logic"),
    ("gap in numbering", DESC + RAT + S1 + S2.replace("Step 2", "Step 3") + ANS, 0.0, "logic"),
    ("repeated step", DESC + RAT + S1 + S1 + ANS, 0.0, "logic"),
    ("steps start at 2", DESC + RAT + S2 + ANS, 0.0, "logic"),
    ("reversed steps", DESC + RAT + S2 + S1 + ANS, 0.0, "logic"),
    ("two final answers", VALID + "\n### The final answer is: 7", 0.0, "logic"),
    ("step after the answer", VALID + "\n### Step 3:\nmore", 0.0, "logic"),
    ("empty final answer (official code accepts)", DESC + RAT + S1 + S2 + "### The final answer is:", 0.0,
     "completeness"),
    ("empty description", "### Image Description:\n\n" + RAT + S1 + ANS, 0.0, "completeness"),
    ("empty step", DESC + RAT + "### Step 1:\n\n" + ANS, 0.0, "completeness"),
    ("duplicated description", DESC + RAT + DESC + S1 + ANS, 0.0, "logic"),
    ("no final answer", DESC + RAT + S1 + S2, 0.0, "completeness"),
    ("empty text", "", 0.0, "completeness"),
    ("bold markdown variant", VALID.replace("### Step 1:", "**Step 1:**"), 1.0, "ok"),
    ("CRLF variant", VALID.replace("\n", "\r\n"), 1.0, "ok"),
]


@pytest.mark.parametrize(("name", "text", "expected", "check"), CASES, ids=[c[0] for c in CASES])
def test_validity_table(name, text, expected, check):
    assert reasoning_validity(text) == expected
    report = validity_report(text)
    assert report.ok == (expected == 1.0)
    assert report.check == check


def test_diagnostic_reasons_are_specific():
    assert validity_report(DESC + RAT + S1 + S2.replace("Step 2", "Step 3") + ANS).reason == (
        "steps out of order: expected step 2, found step 3")
    assert validity_report(DESC + S1 + ANS).reason == "missing rationale section"
    assert validity_report(DESC + RAT + ANS + "\n" + S1).reason == "final answer comes before the last step"


def test_think_format_validity():
    good = "<think>\nStep 1: a = 2\nStep 2: b = 3\n</think>\n<answer>5</answer>"
    assert reasoning_validity(good, "think") == 1.0
    assert reasoning_validity(good.replace("Step 2", "Step 3"), "think") == 0.0
    assert reasoning_validity("<answer>5</answer><think>Step 1: a</think>", "think") == 0.0
    assert reasoning_validity("<think>Step 1: a</think><answer></answer>", "think") == 0.0


@pytest.mark.parametrize(("text", "section"), [
    (VALID, None),
    (DESC + S1 + S2 + ANS, 1),  # missing rationale: where it should have been, before step 1
    (DESC + RAT + S1 + S2.replace("Step 2", "Step 3") + ANS, 3),  # the misnumbered step
    (DESC + RAT + ANS + "\n" + S1 + S2, 3),  # answer before steps: the first step after it
    (VALID + "\n### The final answer is: 7", 6),  # the second answer
    (S1 + S2 + DESC + RAT + ANS, 2),  # description after the steps
    ("", None),
])
def test_report_points_at_the_section_where_validity_breaks(text, section):
    assert validity_report(text).section == section

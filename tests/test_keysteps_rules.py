"""The offline rule extractor on realistic references, and the checks every key step goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepgrpo.data.io import read_rows
from stepgrpo.data.layouts import Fields
from stepgrpo.keysteps.pipeline import check_key_steps, is_trivial, reference_steps
from stepgrpo.keysteps.rules import extract_rule_based
from stepgrpo.parsing import get_format
from stepgrpo.rewards import match_key_step

FIXTURES = Path(__file__).parent / "fixtures" / "keysteps"
R1VL = get_format("r1vl")


def _reference(row_id: str) -> str:
    rows, _ = read_rows(FIXTURES / "references.jsonl")
    return next(Fields().reasoning_of(row.data) for row in rows if row.data["id"] == row_id)


LATEX = """### Step 1:
The area of the rectangle is 24 and its width is 4.
### Step 2:
The length is $\\frac{24}{4} = 6$.
### Step 3:
The perimeter is $2 \\times (6 + 4) = 20$, and AB is parallel to CD.
### The final answer is: 20"""

THINK = ("<think>Step 1: A pen costs $3, so 4 pens cost 4 × 3 = 12 dollars.\nStep 2: 20 - 12 = 8</think>"
         "<answer>8</answer>")

FRACTION_CHOICE = """### Step 1:
3 sectors are shaded out of 8, so the fraction is \\frac{3}{8}.
### Step 2:
\\frac{3}{8} corresponds to option B.
### The final answer is: B"""

ANGLES = """### Step 1:
angle 1 + angle 2 = 180°.
### Step 2:
So angle 2 = 180° - 70° = 110°.
### The final answer is: 110°"""

READING = """### Step 1:
Read the apples bar: 45 apples were sold.
### Step 2:
Read the pears bar: there are 30 pears.
### Step 3:
The difference is 45 - 30 = 15.
### The final answer is: 15"""

# (case, format, reference, {core: [augmentations that must be present]})
CASES = [
    ("geometry", "r1vl", _reference("geo"), {
        "AD is a median": ["median is AD"],
        "D is the midpoint of BC": ["midpoint of BC is D"],
        "AE = 1/2 AD": ["AE is half of AD"],
        "6/2 = 3": ["6 divided by 2 equals 3"],
    }),
    ("chart reading", "r1vl", _reference("chart"), {
        "January sales are 40": [], "February sales are 55": [], "March sales are 25": [],
        "Total sales = 40 + 55 + 25": [],
        "40 + 55 + 25 = 120": ["40 plus 55 plus 25 equals 120"],
    }),
    ("word problem", "r1vl", _reference("word"), {
        "6 × 12 = 72": ["6 times 12 equals 72"],
        "72 - 18 = 54": ["72 minus 18 equals 54"],
        "54 / 3 = 18": ["54 divided by 3 equals 18"],
    }),
    ("multiple choice", "r1vl", _reference("mc"), {
        "180° - 50° - 60° = 70°": ["180° minus 50° minus 60° equals 70°"],
        "Option C is 70°": [],  # "70 degrees" is no longer an augmentation: the matcher equates ° and degrees
    }),
    ("latex and facts", "r1vl", LATEX, {
        "area of the rectangle is 24": [], "width is 4": [],
        "\\frac{24}{4} = 6": ["24 divided by 4 equals 6"],
        "AB is parallel to CD": [],  # "AB ∥ CD" is no longer an augmentation: the matcher equates them
    }),
    ("fraction and option", "r1vl", FRACTION_CHOICE, {
        "fraction is \\frac{3}{8}": [], "\\frac{3}{8} corresponds to option B": [],
    }),
    ("whole equations", "r1vl", ANGLES, {
        "angle 1 + angle 2 = 180°": [], "angle 2 = 180° - 70°": [], "180° - 70° = 110°": ["180° minus 70° equals 110°"],
    }),
    ("value readings", "r1vl", READING, {
        "45 apples": ["apples = 45"], "30 pears": ["pears = 30"], "45 - 30 = 15": [],
    }),
    ("think format", "think", THINK, {"pen costs 3": [], "4 × 3 = 12": ["4 times 3 equals 12"],
                                      "20 - 12 = 8": ["20 minus 12 equals 8"]}),
]


@pytest.mark.parametrize(("case", "fmt", "reference", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_extractor_on_realistic_references(case: str, fmt: str, reference: str,
                                                expected: dict[str, list[str]]) -> None:
    steps, _ = reference_steps(reference, get_format(fmt))
    checked = check_key_steps(extract_rule_based(steps), "\n".join(steps))
    groups = {group[0]: group for group in checked.groups}
    for core, forms in expected.items():
        assert core in groups, f"{case}: {core!r} missing from {list(groups)}"
        assert set(forms) <= set(groups[core]), f"{case}: {groups[core]}"
    steps_text = get_format(fmt).parse(reference).steps_text
    for group in checked.groups:
        assert match_key_step(steps_text, [group[0]]), group  # every key step matches its own reference
        assert not any(is_trivial(form) for form in group)
        # no form is one the matcher would already find through an earlier form of the same group
        assert not any(match_key_step(later, [earlier]) for i, later in enumerate(group) for earlier in group[:i])
    assert checked.dropped["not in reference"] == 0
    # nothing from the final answer or the analysis sections
    assert not any("final answer" in group[0].lower() for group in checked.groups)


def test_augmentations_reward_a_paraphrasing_completion() -> None:
    steps, _ = reference_steps(_reference("geo"), R1VL)
    groups = {g[0]: g for g in check_key_steps(extract_rule_based(steps), "\n".join(steps)).groups}
    policy = "E halves the median, so AE is half of AD, and 6 divided by 2 equals 3."
    for core in ("AE = 1/2 AD", "6/2 = 3"):
        assert not match_key_step(policy, [core])
        assert match_key_step(policy, groups[core])


@pytest.mark.parametrize(("text", "trivial"), [
    ("3", True), ("12", True), ("1,250", True), ("AD", True), ("x=1", True), ("$5", True),
    ("x = 15", False), ("AD = 6", False), ("median is AD", False), ("6/2 = 3", False),
])
def test_trivial_keys(text: str, trivial: bool) -> None:
    assert is_trivial(text) is trivial


def test_check_drops_repairs_and_counts() -> None:
    reference = "AD is a median of triangle ABC, so D is the midpoint of BC.\nAE = 6/2 = 3."
    checked = check_key_steps([
        ["3"],                                           # trivial
        ["AB = 10"],                                     # not in the reference
        ["D bisects BC", "D is the midpoint of BC"],     # repaired: the second form matches
        ["AD is a median", "AD is the median", "median is AD"],  # "the" for "a": the matcher equates them
        ["AD is a median of triangle ABC"],              # duplicate of the one before
        ["6/2 = 3", "6 / 2 = 3", "6 divided by 2 equals 3"],    # spacing variant is redundant
    ], reference)
    assert checked.groups == [["D is the midpoint of BC", "D bisects BC"],
                              ["AD is a median", "median is AD"],
                              ["6/2 = 3", "6 divided by 2 equals 3"]]
    assert checked.dropped == {"trivial": 1, "not in reference": 1, "duplicate": 1}
    assert checked.repaired == 1


def test_reference_without_step_headers_is_split_by_line() -> None:
    steps, answer = reference_steps("Each box holds 12.\n6 × 12 = 72\n### The final answer is: 72", R1VL)
    assert steps == ["Each box holds 12.", "6 × 12 = 72"] and answer == "72"
    # fewer than two rule keys: the clause core of the other line is added, so the reference gives two
    assert [g[0] for g in extract_rule_based(steps)] == ["6 × 12 = 72", "Each box holds 12"]


@pytest.mark.parametrize("reference", [*(c[2] for c in CASES), "### Step 1:\nCount the red balls.\n"
                                       "### Step 2:\nThere are 5 red balls in the bag.\n### The final answer is: 5"])
def test_every_reference_yields_two_key_steps_that_match_it(reference: str) -> None:
    fmt = get_format("think" if reference.startswith("<think>") else "r1vl")
    steps, _ = reference_steps(reference, fmt)
    groups = check_key_steps(extract_rule_based(steps), "\n".join(steps)).groups
    assert len(groups) >= 2, groups
    assert all(match_key_step(fmt.parse(reference).steps_text, [group[0]]) for group in groups)

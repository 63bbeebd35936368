"""Row cells as files and libraries really deliver them reach the rewards in one canonical form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepgrpo.cells import CellError, choices_cell, completion_cell, key_steps_cell, row_dict, solution_cell
from stepgrpo.rewards import key_step_groups, step_accuracy
from stepgrpo.rewards.trl import outcome_reward, step_accuracy_reward
from stepgrpo.rewards.verl import compute_score

CANONICAL = [["4 + 4 = 8"], ["eight apples", "8 apples"]]
GOOD = ("### Image Description:\nBoxes.\n### Rationales:\nAdd.\n### Let's think step by step.\n"
        "### Step 1:\n4 + 4 = 8, so there are eight apples\n### The final answer is: 8")


@pytest.mark.parametrize("cell", [
    CANONICAL,
    [["4 + 4 = 8"], ["eight apples", "8 apples"]],
    [["4 + 4 = 8"], ["eight apples", "8 apples"], []],  # an empty group is dropped
    ["4 + 4 = 8", ["eight apples", "8 apples"]],  # the mixed form
    {"Steps": ["4 + 4 = 8", ["eight apples", "8 apples"]]},
    json.dumps(CANONICAL),  # after a CSV round trip
    json.dumps({"Steps": CANONICAL}),
    np.array([np.array(["4 + 4 = 8"], dtype=object), np.array(["eight apples", "8 apples"], dtype=object)],
             dtype=object),  # what pandas hands back from parquet
])
def test_every_key_step_form_becomes_list_of_lists(cell):
    assert key_steps_cell(cell, strict=False) == CANONICAL
    assert key_step_groups(cell) == CANONICAL


def test_a_json_string_is_never_read_character_by_character():
    cell = json.dumps([["AB = 6"], ["BC = 8"]])
    assert key_step_groups(cell) == [["AB = 6"], ["BC = 8"]]
    assert step_accuracy("### Step 1:\nAB = 6 and BC = 8\n### The final answer is: 14", "14", cell) == (
        pytest.approx(1.1))


@pytest.mark.parametrize(("cell", "field"), [
    ([5], "key_steps[0]"), ({"Steps": 5}, "key_steps.Steps"), ([None], "key_steps[0]"),
    ("AB = 6", "not JSON"), ([["ok"], [""]], "empty key step"), (7, "expected a list"),
])
def test_strict_reading_names_the_field(cell, field):
    with pytest.raises(CellError, match=field.replace("[", r"\[").replace(".", r"\.")):
        key_steps_cell(cell)
    key_step_groups(cell)  # the lenient reading used inside a training loop never raises


@pytest.mark.parametrize(("cell", "text"), [
    ("12", "12"), (12, "12"), (12.0, "12"), (12.5, "12.5"), (np.int64(7), "7"), (np.float32(0.5), "0.5"),
])
def test_solutions_may_be_numbers(cell, text):
    assert solution_cell(cell) == text


@pytest.mark.parametrize("cell", [None, float("nan"), True, [1], {"a": 1}, float("inf")])
def test_unusable_solutions_name_the_field(cell):
    with pytest.raises(CellError, match="field 'solution'"):
        solution_cell(cell)


def test_message_content_may_be_none_or_parts():
    assert completion_cell([{"role": "assistant", "content": None}]) == ""
    assert completion_cell({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}) == "a"
    assert completion_cell(np.array([{"role": "assistant", "content": "x"}], dtype=object)) == "x"
    assert outcome_reward([[{"role": "assistant", "content": None}]], solution=["8"]) == [0.0]


def test_choices_from_every_form():
    expected = {"A": "7", "B": "8"}
    for cell in ({"A": "7", "B": "8"}, ["7", "8"], json.dumps(["7", "8"]), json.dumps(expected),
                 np.array(["7", "8"], dtype=object)):
        assert choices_cell(cell) == expected
    assert choices_cell(None) is None and choices_cell(float("nan")) is None
    with pytest.raises(CellError, match="field 'choices'"):
        choices_cell("[oops")


def test_pandas_rows_reach_the_adapters():
    frame = pd.DataFrame([{"solution": 8, "key_steps": CANONICAL, "choices": None},
                          {"solution": "B", "key_steps": json.dumps(CANONICAL), "choices": ["7", "8"]}])
    rows = [row_dict(row) for _, row in frame.iterrows()]
    assert rows[0]["solution"] == 8
    rewards = step_accuracy_reward([GOOD, GOOD.replace("is: 8", "is: (B)")], solution=frame["solution"].tolist(),
                                   key_steps=frame["key_steps"].tolist(), choices=frame["choices"].tolist())
    assert rewards == pytest.approx([1.1, 1.1])
    score = compute_score("x", GOOD, 8, {"key_steps": np.array(CANONICAL, dtype=object)})
    assert score["step_accuracy"] == pytest.approx(1.1)


def test_the_canonical_form_is_arrow_storable():
    import datasets

    cells = [["4 + 4 = 8", ["eight apples", "8 apples"]], json.dumps({"Steps": CANONICAL}), None]
    dataset = datasets.Dataset.from_dict({"key_steps": [key_steps_cell(cell) for cell in cells]})
    assert dataset[0]["key_steps"] == CANONICAL and dataset[2]["key_steps"] == []
    assert key_step_groups(dataset.to_pandas()["key_steps"][0]) == CANONICAL

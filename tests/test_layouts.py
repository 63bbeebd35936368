"""R1-VL and TRL layouts, and where the reference reasoning is read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepgrpo.data.io import read_rows, write_rows
from stepgrpo.data.layouts import Fields, LayoutError, parse_key_steps, to_r1vl, to_trl, with_key_steps
from stepgrpo.rewards import key_step_groups

REASONING = "### Step 1:\nAE = 1/2 AD\n### The final answer is: 3"


@pytest.mark.parametrize("value", [
    {"Steps": [["AE = 1/2 AD", "AE is half of AD"], "6/2 = 3"]},
    [["AE = 1/2 AD", "AE is half of AD"], ["6/2 = 3"]],
    json.dumps({"Steps": [["AE = 1/2 AD", "AE is half of AD"], "6/2 = 3"]}),
])
def test_parse_key_steps_accepts_both_layouts(value: object) -> None:
    assert parse_key_steps(value) == [["AE = 1/2 AD", "AE is half of AD"], ["6/2 = 3"]]


@pytest.mark.parametrize(("value", "message"), [
    ({"steps": []}, "'Steps'"),
    ([["ok"], [1, 2]], "key_steps[1]"),
    ([["ok"], ["  "]], "empty key step"),
    ("not json", "not JSON"),
    (5, "expected a list"),
])
def test_parse_key_steps_names_the_bad_field(value: object, message: str) -> None:
    with pytest.raises(LayoutError, match=message.replace("[", r"\[")):
        parse_key_steps(value)


def test_r1vl_round_trip_through_a_file_reads_back_for_the_reward(tmp_path: Path) -> None:
    row = {"messages": [{"role": "user", "content": "Find AE."}, {"role": "assistant", "content": REASONING}],
           "images": ["a.png"]}
    out = to_r1vl(row, [["AE = 1/2 AD", "AE is half of AD"]])
    assert out == {"image_path": "a.png", "problem": "Find AE.", "solution": REASONING,
                   "key_steps": {"Steps": [["AE = 1/2 AD", "AE is half of AD"]]}}
    for name in ("r1vl.jsonl", "r1vl.parquet"):
        write_rows(tmp_path / name, [out])
        (back,), errors = read_rows(tmp_path / name)
        assert not errors
        assert parse_key_steps(back.data["key_steps"]) == [["AE = 1/2 AD", "AE is half of AD"]]
        assert key_step_groups(back.data["key_steps"]) == [["AE = 1/2 AD", "AE is half of AD"]]


def test_trl_row_is_conversational_with_images_and_answer() -> None:
    row = {"image_path": "c.png", "problem": "Total?", "solution": REASONING}
    out = to_trl(row, [["6/2 = 3"]], answer="3")
    assert out == {"prompt": [{"role": "user", "content": "Total?"}], "solution": "3",
                   "key_steps": [["6/2 = 3"]], "image": "c.png"}
    two = to_trl({"images": ["a.png", "b.png"], "question": "Q", "solution": REASONING}, [["x = 12"]])
    assert two["images"] == ["a.png", "b.png"] and two["solution"] == REASONING


def test_keep_layout_adds_only_key_steps() -> None:
    row = {"id": 7, "solution": REASONING}
    assert with_key_steps(row, [["AE = 1/2 AD"]]) == {"id": 7, "solution": REASONING,
                                                     "key_steps": [["AE = 1/2 AD"]]}
    with pytest.raises(ValueError, match="unknown layout"):
        with_key_steps(row, [], layout="verl")


def test_reasoning_from_sharegpt_multimodal_parts_and_custom_fields() -> None:
    sharegpt = {"conversations": [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": REASONING}]}
    assert Fields().reasoning_of(sharegpt) == REASONING
    assert Fields().question_of(sharegpt) == "Q?"
    parts = {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": REASONING}]}]}
    assert Fields().reasoning_of(parts) == REASONING
    assert Fields().question_of(parts) == "Q?"
    custom = Fields(reasoning="cot", question="q")
    assert custom.reasoning_of({"cot": REASONING, "solution": "3"}) == REASONING
    assert custom.question_of({"q": "Why?", "problem": "no"}) == "Why?"


@pytest.mark.parametrize(("row", "message"), [
    ({"problem": "Q"}, "no reference reasoning"),
    ({"messages": [{"role": "user", "content": "Q"}]}, "no non-empty assistant turn"),
    ({"solution": 3}, "expected text or a conversation"),
])
def test_missing_reasoning_is_a_clear_error(row: dict, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        Fields().reasoning_of(row)

"""The evidence benchmark: its checks of completions count wrong steps and reward-earning wrong answers; sittings on
other seeds side by side keep each other's results."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from evidence import RL_TASK, completion_signs, false_sum, misread, record

from stepgrpo.data.chartmath import write_dataset

VALUES = [{"label": "dog", "value": 8}, {"label": "ant", "value": 6}, {"label": "fox", "value": 7}]


@pytest.mark.parametrize(("text", "false"), [
    ("7 + 6 + 9 + 2 = 17.", True), ("8 - 6 = 2.", False), ("6 - 7 = 1", True), ("-3 + 5 = 2", False),
    ("So 12 = 12 and 3+4=7.", False), ("no arithmetic here = 5", False),
])
def test_false_sum(text, false):
    assert false_sum(text) is false


@pytest.mark.parametrize(("text", "wrong"), [
    ("The tallest bar is dog, so dog = 8.", False), ("The tallest bar is fox, so fox = 7.", True),
    ("The shortest bar is ant, so ant = 6.", False), ("Reading the bars: dog = 8, ant = 5.", True),
    ("cat = 3 is not a bar here", False),
])
def test_misread(text, wrong):
    assert misread(text, VALUES) is wrong


def test_completion_signs_on_real_rows(tmp_path):
    write_dataset(tmp_path, 0, 4, seed=3, config=RL_TASK, overwrite=True)
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "test.jsonl").read_text().splitlines())}
    row = next(iter(rows.values()))
    reference = row["solution"]
    stated = reference.rsplit("### The final answer is:", 1)[0] + "### The final answer is: 99"
    predictions = [
        {"id": row["id"], "completion": reference, "extracted": row["answer"]},
        {"id": f"{row['id']}~1", "completion": stated, "extracted": "99"},  # right steps, wrong answer
        {"id": row["id"], "completion": reference.replace("### Step 1:", "### Step 1:\n1 + 1 = 3."), "extracted": "x"},
        {"id": row["id"], "completion": "### Step 1:\nI think\nI think", "extracted": ""},
    ]
    signs = completion_signs(predictions, rows)
    assert signs["valid_but_wrong"] == 0.25 and signs["keysteps_but_wrong"] == 0.25
    assert signs["false_sum"] == 0.25 and signs["lucky"] == 0.25  # the third is right, with a false sum
    assert signs["repeated_line"] == 0.25 and signs["no_answer"] == 0.25 and signs["misread"] == 0.0


def test_record_keeps_runs_other_sittings_recorded(tmp_path):
    path = tmp_path / "results.json"
    first = {"settings": {"x": 1}, "runs": {}}
    second = {"settings": {"x": 1}, "runs": {}}  # loaded before the first sitting recorded anything
    record(path, first, 1, "outcome", {"metrics": {"accuracy": 0.3}})
    merged = record(path, second, 2, "outcome", {"metrics": {"accuracy": 0.2}})
    stored = json.loads(path.read_text())
    assert stored == merged and set(stored["runs"]) == {"1", "2"} and stored["settings"] == {"x": 1}

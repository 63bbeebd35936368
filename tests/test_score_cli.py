import json
import subprocess
import sys

from typer.testing import CliRunner

from stepgrpo.cli import app

runner = CliRunner()


def test_score_bundled_example(tmp_path):
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["score", "--example", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {row["id"]: row for row in rows}
    assert by_id["correct-all-steps"]["reward"] == 2.1
    assert by_id["no-final-answer"]["reward"] == 0.0
    assert by_id["steps-out-of-order"]["validity"].startswith("steps out of order")
    assert by_id["substring-hack"]["key_step_fraction"] == 0.0
    assert "answer accuracy" in result.output


def test_malformed_rows_are_named_and_the_rest_scored(tmp_path):
    good = {"completion": "### Step 1:\nx = 3\n### The final answer is: 3", "solution": "3", "key_steps": [["x = 3"]]}
    lines = [json.dumps(good), "{not json", json.dumps({"solution": "3"}), json.dumps({**good, "key_steps": "x"}),
             json.dumps({**good, "choices": "[oops"}), json.dumps(good)]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, "-m", "stepgrpo.cli", "score", str(data)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{data}:2: not valid JSON" in result.stderr
    assert f"{data}:3: field 'completion'" in result.stderr
    assert f"{data}:4: field 'key_steps'" in result.stderr
    assert f"{data}:5: field 'choices'" in result.stderr
    scored = (tmp_path / "rows.jsonl.scores.jsonl").read_text().splitlines()
    assert len(scored) == 2
    assert json.loads(scored[0])["step_accuracy"] == 1.1


def test_every_kind_of_bad_cell_costs_one_line_and_only_its_row(tmp_path):
    good = {"completion": "### Step 1:\nx = 3\n### The final answer is: 3", "solution": "3", "key_steps": [["x = 3"]]}
    bad = [({**good, "key_steps": [5]}, "field key_steps[0]"), ({**good, "key_steps": {"Steps": 5}}, "key_steps.Steps"),
           ({**good, "key_steps": [None]}, "field key_steps[0]"), ({**good, "completion": 5}, "field 'completion'"),
           ({**good, "completion": [1, 2]}, "field 'completion'"), ({**good, "solution": None}, "field 'solution'"),
           ({**good, "solution": [3]}, "field 'solution'")]
    fine = [{**good, "solution": 3}, {**good, "solution": 3.0}, {**good, "key_steps": json.dumps([["x = 3"]])},
            {**good, "key_steps": [["x = 3"], "x is 3"]},
            {**good, "completion": [{"role": "assistant", "content": good["completion"]}, {"content": None}]}]
    data = tmp_path / "cells.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in [good, *(row for row, _ in bad), *fine]) + "\n")
    result = subprocess.run([sys.executable, "-m", "stepgrpo.cli", "score", str(data)], capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == len(bad)
    for line_number, (_, field) in enumerate(bad, start=2):
        assert any(f"{data}:{line_number}: " in line and field in line for line in skipped), (field, skipped)
    scored = [json.loads(line) for line in (tmp_path / "cells.jsonl.scores.jsonl").read_text().splitlines()]
    assert len(scored) == 1 + len(fine)
    assert [row["answer_correct"] for row in scored] == [True] * len(scored)


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["score", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "no such file" in result.output

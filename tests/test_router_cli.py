"""The R1-Router commands end to end on real files: router-world, kb build/query, router-data."""

import json

from typer.testing import CliRunner


def test_router_commands(tmp_path):
    from stepgrpo.cli import app

    runner = CliRunner()
    world = tmp_path / "world"
    result = runner.invoke(app, ["router-world", str(world), "--n", "12", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "wrote 12 questions" in result.output

    index = tmp_path / "index"
    result = runner.invoke(app, ["kb", "build", str(world / "kb_source"), str(index)])
    assert result.exit_code == 0, result.output
    first_table = json.loads((world / "kb_source" / "tables.jsonl").read_text().splitlines()[0])
    city = first_table["rows"][0][0]
    result = runner.invoke(app, ["kb", "query", str(index), f"population of {city}", "--kb", "table", "-k", "5",
                                 "--json"])
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert hits[0]["id"] == first_table["id"] and hits[0]["kb"] == "table" and len(hits) <= 5

    result = runner.invoke(app, ["kb", "query", str(tmp_path), "anything"])
    assert result.exit_code == 1 and "manifest.json: missing" in result.output

    steps = tmp_path / "steps.jsonl"
    result = runner.invoke(app, ["router-data", str(world / "trajectories.jsonl"), str(steps)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in steps.read_text().splitlines()]
    assert {row["role"] for row in rows} == {"router", "sub_answer", "final"}

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "q", "answer": "a", "steps": [
        {"sub_question": "s", "kb": "web", "retrieved": ["p"], "sub_answer": "a"}]}) + "\n")
    result = runner.invoke(app, ["router-data", str(bad), str(tmp_path / "bad-steps.jsonl")])
    assert result.exit_code == 1 and "trajectory x, step 1: field 'kb'" in result.output
    assert not (tmp_path / "bad-steps.jsonl").exists()

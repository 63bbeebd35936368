"""The R1-Router inference loop with real indexes: the tiny model end to end, and a policy that
follows the reference trajectories, so that retrieval, the step cap and failures are exercised."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.router.format import answer_completion, router_completion


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stepgrpo.router.world import WorldConfig, generate_world

    folder = tmp_path_factory.mktemp("router-world")
    generate_world(folder, WorldConfig(seed=2, questions=8))
    return folder


def reference_policy(trajectories: Path, garble: str = ""):
    """Writes the reference sub-question and route; answers a sub-question only from the passages it
    was shown (the reference sub-answer if a passage holds it); the question `garble` gets nonsense."""
    by_question = {}
    for line in trajectories.read_text().splitlines():
        record = json.loads(line)
        by_question[record["question"]] = record["steps"]

    def policy(prompts):
        out = []
        for messages, _ in prompts:
            user = messages[1]["content"]
            origin = re.search(r"Origin question: (.*)\n", user)
            if origin and origin.group(1) == garble:
                out.append("no tags at all")
            elif origin and "final answer" in user:
                answers = re.findall(r"Answer\d+: (.*)\n", user)
                out.append(answer_completion(answers[-1] if answers else "unknown"))
            elif origin:
                steps = by_question[origin.group(1)]
                done = user.count("Sub-question")
                out.append(router_completion(steps[done]["sub_question"], steps[done]["kb"]) if done < len(steps)
                           else router_completion("none", "none"))
            else:
                asked = user.rsplit("to the Question: ", 1)[1].lower()
                step = next(s for steps in by_question.values() for s in steps if s["sub_question"].lower() == asked)
                found = step["sub_answer"].lower() in user.split("to the Question:")[0].lower()
                out.append(answer_completion(step["sub_answer"] if found else "unknown"))
        return out

    return policy


def test_loop_retrieves_between_turns_and_records_failures(world: Path, tmp_path: Path) -> None:
    from stepgrpo.router.inference import answer_questions, read_questions, summarize
    from stepgrpo.router.kb import KnowledgeBases

    questions = read_questions(world / "trajectories.jsonl")
    garbled = questions[0][0].question
    records = answer_questions(questions, KnowledgeBases.load(world / "kb"),
                               reference_policy(world / "trajectories.jsonl", garble=garbled), retries=2)
    first = records[0]
    assert first["routes"] == ["invalid"] and first["steps"][0]["attempts"] == 3
    assert first["stop_reason"] == "malformed router step after 3 attempt(s)" and first["final"]["error"]
    rest = records[1:]
    assert all(r["recall"] == 1.0 and r["routes"] == r["reference_routes"] for r in rest)
    assert [r["retrievals"] for r in rest] == [len(q.steps) for q, _ in questions[1:]]
    assert all(step["retrieval"]["hits"] for r in rest for step in r["steps"] if "retrieval" in step)
    summary = summarize(records)
    assert summary["answer_recall"] == pytest.approx(7 / 8) and summary["routing_accuracy"] == pytest.approx(7 / 8)

    # An index without the table knowledge base: those retrievals fail, the run goes on.
    text_only = KnowledgeBases.build(world / "kb_source" / "text.jsonl", tmp_path / "text-kb")
    records = answer_questions(questions[1:], text_only, reference_policy(world / "trajectories.jsonl"),
                               max_retrievals=1)
    for (question, _), record in zip(questions[1:], records, strict=True):
        step = record["steps"][0]
        if question.steps[0]["kb"] == "text":
            assert step["answer"]["answer"] == question.steps[0]["sub_answer"].lower()
        else:
            assert "no 'table'" in step["retrieval"]["error"] or "no 'image_text'" in step["retrieval"]["error"]
            assert "answer" not in step
        if len(question.steps) > 1:
            assert record["stop_reason"] == "step cap (1 retrievals)"


def test_router_answer_command_with_the_tiny_model(world: Path, tiny_vlm_dir: Path, tmp_path: Path) -> None:
    from stepgrpo.cli import app

    out = tmp_path / "answers.jsonl"
    args = ["router-answer", str(world / "trajectories.jsonl"), str(out), "--model", str(tiny_vlm_dir),
            "--index", str(world / "kb"), "--max-new-tokens", "12", "--retries", "1", "--limit", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 4 answers" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"world-2-0000{i}" for i in range(4)]
    for record in records:  # a random model never follows the format: every failure has its reason
        assert record["stop_reason"].startswith("malformed router step") and record["final"]["error"]
        assert record["steps"][0]["router"]["error"] and record["steps"][0]["attempts"] == 2

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "image": "missing.png"}\n{"id": "b"}\n')
    result = CliRunner().invoke(app, ["router-answer", str(bad), str(out), "--model", str(tiny_vlm_dir),
                                      "--index", str(world / "kb")])
    assert result.exit_code == 1
    assert "bad.jsonl:1: field 'image': no such file" in result.output
    assert "bad.jsonl:2: field 'question'" in result.output

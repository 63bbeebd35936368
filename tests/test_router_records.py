"""Reference trajectories to R1-Router Step-GRPO step rows, in the official layout."""

import json

import pytest
from PIL import Image

from stepgrpo.router.prompts import ANSWER_SYSTEM_PROMPT, FINAL_SYSTEM_PROMPT, ROUTER_SYSTEM_PROMPT
from stepgrpo.router.records import trajectories_to_rows

TWO_HOPS = {
    "id": "q1", "question": "What is the population of the city where Ana was born?", "image": "pics/q1.png",
    "answer": "4820",
    "steps": [
        {"sub_question": "Where was Ana born?", "kb": "Text Retriever",
         "retrieved": ["Ana was born in Zorvik.", "Bex was born in Quell."], "sub_answer": "Zorvik"},
        {"sub_question": "What is the population of Zorvik?", "kb": "table",
         "retrieved": [f"table {i}" for i in range(7)], "sub_answer": "4820"},
    ],
}
THREE_HOPS = {"id": "q2", "question": "Q2?", "answer": ["a", "b"], "steps": [
    {"sub_question": f"s{i}?", "kb": "image_text", "retrieved": ["p"], "sub_answer": f"a{i}"} for i in (1, 2, 3)]}


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_rows_follow_the_official_layout(tmp_path):
    (tmp_path / "data" / "pics").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "data" / "pics" / "q1.png")
    write(tmp_path / "data" / "traj.jsonl", [TWO_HOPS, THREE_HOPS])
    rows, problems = trajectories_to_rows(tmp_path / "data" / "traj.jsonl", tmp_path / "out" / "steps.jsonl")
    assert problems == []
    q1 = [row for row in rows if row["trajectory_id"] == "q1"]
    assert [(r["step_type"], r["role"]) for r in q1] == [
        ("ret", "router"), ("ans", "sub_answer"), ("ret", "router"), ("ans", "sub_answer"),
        ("ret", "router"), ("ans", "final")]
    assert [r["step_index"] for r in q1] == list(range(6))
    router, answer, final = ROUTER_SYSTEM_PROMPT, ANSWER_SYSTEM_PROMPT, FINAL_SYSTEM_PROMPT
    assert [r["system"] for r in q1] == [router, answer, router, answer, router, final]
    assert q1[0]["problem"] == "Origin question: What is the population of the city where Ana was born?\n"
    assert (q1[0]["ref_query"], q1[0]["ref_kb"]) == ("Where was Ana born?", "text")
    assert q1[1]["problem"] == (
        "According to the related information searched, `ter` means this info is from text retriever, `tir` "
        "means this info is from text image retriever, `tar` means this info is from table retriever:"
        "ter-0: Ana was born in Zorvik.\nter-1: Bex was born in Quell.\n\n\n Give me the answer(with the format "
        "<answer></answer>) to the Question: Where was Ana born?")
    assert q1[1]["ref_answers"] == ["Zorvik"]
    assert q1[2]["problem"].endswith("Sub-question1: Where was Ana born?\nAnswer1: Zorvik\n")
    assert q1[3]["problem"].count("tar-") == 5  # top-5 passages only
    assert (q1[4]["ref_query"], q1[4]["ref_kb"]) == ("none", "none")  # the stop step
    assert q1[5]["problem"] == (
        "Origin question: What is the population of the city where Ana was born?\n"
        "Sub-question1: Where was Ana born?\nAnswer1: Zorvik\n"
        "Sub-question2: What is the population of Zorvik?\nAnswer2: 4820\n"
        "Now, give me the final answer of the origin question: "
        "What is the population of the city where Ana was born?")
    assert q1[5]["ref_answers"] == ["4820"]
    assert all(r["images"] == ["../data/pics/q1.png"] for r in q1)  # relative to the rows file
    assert q1[0]["prompt"] == [{"role": "system", "content": ROUTER_SYSTEM_PROMPT},
                               {"role": "user", "content": q1[0]["problem"]}]
    q2 = [row for row in rows if row["trajectory_id"] == "q2"]
    assert len(q2) == 7 and q2[-2]["role"] == "sub_answer"  # three retrievals: no stop step
    assert q2[-1]["ref_answers"] == ["a", "b"] and q2[0]["images"] == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"steps": [{**TWO_HOPS["steps"][0], "kb": "Web"}]}, "trajectory q1, step 1: field 'kb': unknown knowledge base"),
    ({"steps": [{**TWO_HOPS["steps"][0], "kb": "None"}]}, "trajectory q1, step 1: field 'kb': a retrieval step"),
    ({"steps": [TWO_HOPS["steps"][0], {**TWO_HOPS["steps"][1], "retrieved": []}]},
     "trajectory q1, step 2: field 'retrieved'"),
    ({"steps": [{**TWO_HOPS["steps"][0], "sub_question": "None"}]},
     "trajectory q1, step 1: field 'sub_question': 'none' is the stop signal"),
    ({"steps": THREE_HOPS["steps"] * 2}, "trajectory q1: field 'steps'"),
    ({"answer": ""}, "trajectory q1: field 'answer': answers must not be empty"),
    ({"image": "pics/missing.png"}, "trajectory q1: field 'image': no such file"),
])
def test_errors_name_trajectory_and_step(tmp_path, change, expected):
    write(tmp_path / "traj.jsonl", [{**TWO_HOPS, "image": None, **change}])
    rows, problems = trajectories_to_rows(tmp_path / "traj.jsonl", tmp_path / "steps.jsonl")
    assert rows == []
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'traj.jsonl'}:1: {expected}"), problems


def test_duplicate_ids_and_bad_lines(tmp_path):
    (tmp_path / "traj.jsonl").write_text(json.dumps(THREE_HOPS) + "\n[1]\n" + json.dumps(THREE_HOPS) + "\n")
    rows, problems = trajectories_to_rows(tmp_path / "traj.jsonl", tmp_path / "steps.jsonl")
    assert len(rows) == 7
    assert problems[0].endswith(":2: expected a JSON object, got list")
    assert ":3: trajectory q2: field 'id': already used at" in problems[1]

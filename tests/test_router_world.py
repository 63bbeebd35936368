"""The generated R1-Router world: determinism, and every reference step is retrievable."""

import json

from stepgrpo.router.kb import KnowledgeBases
from stepgrpo.router.records import trajectories_to_rows
from stepgrpo.router.rewards import answer_recall
from stepgrpo.router.world import WorldConfig, generate_world


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    generate_world(tmp_path / "a", WorldConfig(seed=5, questions=24))
    generate_world(tmp_path / "b", WorldConfig(seed=5, questions=24))
    generate_world(tmp_path / "c", WorldConfig(seed=6, questions=24))
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a == b and "trajectories.jsonl" in a and "kb_source/images/logo-000.png" in a
    assert a["trajectories.jsonl"] != files(tmp_path / "c")["trajectories.jsonl"]


def test_trajectories_are_retrievable_and_convert(tmp_path):
    summary = generate_world(tmp_path / "w", WorldConfig(seed=2, questions=40))
    assert summary["questions"] == 40 and set(summary["hops"]) == {"1", "2", "3"}
    assert set(summary["routes"]) == {"text", "image_text", "table"}
    trajectories = [json.loads(line) for line in (tmp_path / "w" / "trajectories.jsonl").read_text().splitlines()]
    kbs = KnowledgeBases.load(tmp_path / "w" / "kb")  # reloaded from disk, checksums verified
    for trajectory in trajectories:
        kinds = [step["kb"] for step in trajectory["steps"]]
        assert len(set(kinds)) == len(kinds)  # each lookup goes to a different knowledge base
        for step in trajectory["steps"]:
            top = kbs.search(step["sub_question"], step["kb"], k=5)
            assert answer_recall(top[0].text, step["sub_answer"]) == 1.0
            assert step["retrieved"] == [hit.text for hit in top]
        assert trajectory["steps"][-1]["sub_answer"] == trajectory["answer"][0]
        if trajectory["image"]:
            assert (tmp_path / "w" / trajectory["image"]).is_file()
    assert any(t["image"] for t in trajectories)
    rows, problems = trajectories_to_rows(tmp_path / "w" / "trajectories.jsonl", tmp_path / "w" / "steps.jsonl")
    assert problems == [] and len(rows) == sum(2 * len(t["steps"]) + 1 + (len(t["steps"]) < 3) for t in trajectories)


def test_force_replaces_only_the_worlds_own_outputs(tmp_path):
    import pytest

    out = tmp_path / "w"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    generate_world(out, WorldConfig(seed=1, questions=12))  # other files beside the world are fine
    first = files(out)
    with pytest.raises(FileExistsError, match=r"kb_source: already exists .*pass --force"):
        generate_world(out, WorldConfig(seed=2, questions=12))
    assert files(out) == first
    generate_world(out, WorldConfig(seed=2, questions=12), force=True)
    assert (out / "notes.txt").read_text() == "mine"  # never deleted: the world did not write it
    assert files(out)["trajectories.jsonl"] != first["trajectories.jsonl"]
    (out / "kb_source" / "my-data.csv").write_text("a,b")
    with pytest.raises(FileExistsError, match=r"kb_source: is not what the world generator writes"):
        generate_world(out, WorldConfig(seed=3, questions=12), force=True)
    assert (out / "kb_source" / "my-data.csv").read_text() == "a,b" and (out / "kb").is_dir()

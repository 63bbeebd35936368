"""What `train` and `sft` print, on real tiny runs: one progress bar, one compact metrics line per
logged step and no raw log dicts, completion tables with shortened prompts, no deprecation warning
caused by our own calls, TensorBoard event files by default."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from training_helpers import write_rows

from stepgrpo.models import load_model_and_processor
from stepgrpo.training.config import config_from_mapping
from stepgrpo.training.console import SAME_PROMPT, MetricsLine, prompt_summary

NOT_OURS = ("`is_gradient_checkpointing` is deprecated",)  # read by TRL 1.16 itself (trl/models/utils.py)
RUN = {"max_steps": 2, "logging_steps": 1, "save_strategy": "no", "activation_checkpointing": False,
       "max_pixels": 12544, "learning_rate": 1e-3, "seed": 0}


def deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught
            if issubclass(w.category, FutureWarning | DeprecationWarning)
            and not any(part in str(w.message) for part in NOT_OURS)]


def tensorboard_events(output_dir) -> list:
    return sorted((output_dir / "runs").glob("*/events.out.tfevents.*"))


def test_train_prints_one_bar_compact_lines_and_short_tables(tiny_vlm_dir, tmp_path, capsys):
    from stepgrpo.training.run import train

    out = tmp_path / "rl"
    settings = {"model": str(tiny_vlm_dir), "train_data": str(write_rows(tmp_path / "data", count=4)),
                "output_dir": str(out), "per_device_train_batch_size": 8, "max_completion_length": 4,
                "completion_table_steps": 2, **RUN}  # report_to not set: TensorBoard
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run, args = config_from_mapping(settings)
        train(run, args)
    printed = capsys.readouterr()
    assert deprecations(caught) == []
    assert "{'loss'" not in printed.out + printed.err and "'grad_norm'" not in printed.out + printed.err
    lines = [line for line in printed.out.splitlines() if line.startswith("step ")]
    assert len(lines) == 2
    for index, line in enumerate(lines, 1):
        assert line.startswith(f"step {index}/2 · reward ")
        for part in ("accuracy", "validity", "KL", "loss"):
            assert f" · {part} " in line
        assert re.search(r" · \d+\.\d\d s/step$", line)
    assert printed.err.count("| 0/2 [") == 1, "one training progress bar"
    # One table (step 2, not again for the end-of-training summary), a few lines per row: the
    # prompt shows its end (the question) once per group, not the whole instruction in every row.
    assert printed.out.count("Step 2") == 1
    table = [line for line in printed.out.splitlines() if line.startswith("│")]
    assert 8 <= len(table) <= 8 * 8, len(table)
    assert "Generate an image description" not in printed.out and SAME_PROMPT in printed.out
    saved = pd.read_parquet(out / "completions" / "completions_00002.parquet")
    assert "Generate an image description" in str(saved["prompt"][0]), "the saved table keeps whole prompts"
    assert tensorboard_events(out)


def test_sft_lines_without_tqdm_and_tensorboard(tiny_vlm_dir, tmp_path, capsys):
    from stepgrpo.training.sft import StepSFTConfig, sft

    out = tmp_path / "sft"
    settings = {"model": str(tiny_vlm_dir), "output_dir": str(out), "per_device_train_batch_size": 4,
                "train_data": str(write_rows(tmp_path / "data", count=4, reasoning=True)), "disable_tqdm": True, **RUN}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sft(*config_from_mapping(settings, config_cls=StepSFTConfig))
    printed = capsys.readouterr()
    assert deprecations(caught) == []
    assert "{'loss'" not in printed.out + printed.err
    lines = [line for line in printed.out.splitlines() if line.startswith("step ")]
    assert [line.split(" · ")[0] for line in lines] == ["step 1/2", "step 2/2"]
    assert all(" · loss " in line and " · token accuracy " in line for line in lines)
    assert re.search(r"^done: 2 steps in \d+\.\d s$", printed.out, re.MULTILINE)
    assert "| 0/2 [" not in printed.err, "disable_tqdm: no bar"
    assert tensorboard_events(out)


def test_report_to_none_writes_no_tensorboard_logs():
    from stepgrpo.training.sft import StepSFTConfig

    _, args = config_from_mapping({"model": "m", "train_data": "d", "report_to": "none"}, config_cls=StepSFTConfig)
    assert args.report_to == []
    _, args = config_from_mapping({"model": "m", "train_data": "d"})
    assert args.report_to == ["tensorboard"] and args.activation_checkpointing is True


def test_old_checkpointing_name_still_works():
    with pytest.warns(FutureWarning, match="gradient_checkpointing"):  # the user's own deprecated call
        _, args = config_from_mapping({"model": "m", "train_data": "d", "gradient_checkpointing": False})
    assert args.activation_checkpointing is False


def test_pixel_bounds_without_deprecated_call_kwargs(tiny_vlm_dir):
    from PIL import Image

    text = "<|vision_start|><|image_pad|><|vision_end|>hi"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        grids = {}
        for bound in (3136, 12544):
            _, processor = load_model_and_processor(tiny_vlm_dir, max_pixels=bound, min_pixels=1000)
            batch = processor(text=[text], images=[Image.new("RGB", (224, 224))])
            grids[bound] = batch["image_grid_thw"].tolist()
    assert grids == {3136: [[1, 4, 4]], 12544: [[1, 8, 8]]}


def test_prompt_summary_keeps_the_question_on_one_line():
    prompt = [{"role": "user", "content": [{"type": "image"},
                                           {"type": "text", "text": "Format it.\n" * 40 + "Question: what is 2 + 3?"}]}]
    summary = prompt_summary(prompt, chars=30)
    assert summary.startswith("[IMAGE] …") and summary.endswith("Question: what is 2 + 3?")
    assert "\n" not in summary and len(summary) == len("[IMAGE] …") + 30
    assert prompt_summary("short") == "short"


def test_metrics_line_picks_what_was_logged():
    line = MetricsLine()
    line.start(0)
    grpo = line.format({"reward": 1.25, "rewards/outcome_reward/mean": 0.5, "kl": 0.001, "loss": 0.2,
                        "learning_rate": 1e-4}, step=1, max_steps=4)
    assert re.fullmatch(r"step 1/4 · reward 1\.250 · accuracy 0\.50 · KL 0\.0010 · loss 0\.2000 · \d+\.\d\d s/step",
                        grpo)
    assert line.format({"eval_reward": 0.5, "eval_kl": 0.0}, step=1, max_steps=4) == \
        "eval step 1/4 · reward 0.500 · KL 0.0000"

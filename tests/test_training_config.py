"""Config loading: presets as the paper gives them, merge order, and errors that name the field."""

from __future__ import annotations

import pytest

from stepgrpo.training.config import ConfigError, StepGRPOConfig, load_train_config, parse_overrides, preset_names

REQUIRED = ["--model", "m", "--train_data", "d.jsonl"]


def test_r1vl_presets_match_the_paper():
    for name in ("r1vl-2b", "r1vl-7b"):
        run, args = load_train_config(None, ["--train_data", "d.jsonl"], preset=name)
        assert run.model == f"Qwen/Qwen2-VL-{name[-2:].upper()}-Instruct"
        assert (args.num_generations, args.temperature, args.max_completion_length) == (4, 1.2, 1024)
        assert (args.beta, args.learning_rate, args.loss_type, args.num_iterations) == (0.04, 1e-6, "grpo", 1)
        assert args.scale_rewards == "group" and run.max_pixels == 400000
        assert args.reward_funcs == ["step_accuracy", "step_validity"] and args.reward_weights == [1.0, 1.0]
        assert args.alpha == 0.1
    assert set(preset_names()) >= {"r1vl-2b", "r1vl-7b", "tiny"}


def test_merge_order_preset_then_file_then_command_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model: from-file\ntrain_data: d.jsonl\nmax_steps: 7\nlearning_rate: 1e-5\n"
                      "save_strategy: no\n")
    run, args = load_train_config(config, ["--max-steps=9", "--alpha", "0.2"], preset="tiny")
    assert run.model == "from-file" and run.max_pixels == 12544  # preset value kept
    assert (args.max_steps, args.alpha, args.learning_rate) == (9, 0.2, 1e-5)
    assert args.save_strategy == "no"  # YAML 1.1 would have read `no` as False
    assert args.use_cpu and not args.bf16  # CPU defaults: no bf16 autocast


@pytest.mark.parametrize("override, message", [
    (["--lerning_rate", "1"], r"unknown field 'lerning_rate'; did you mean learning_rate"),
    (["--loss_type", "ppo"], r"loss_type: 'ppo' is not allowed; choose one of grpo, bnpo"),
    (["--advantage_mode", "token"], r"advantage_mode: 'token' is not allowed; choose one of sequence"),
    (["--reasoning_format", "xml"], r"reasoning_format: 'xml' is not allowed; choose one of r1vl, think"),
    (["--reward_funcs", "[accuracy]"], r"reward_funcs: \['accuracy'\] not allowed"),
    (["--reward_weights", "[1.0]"], r"reward_weights: 1 weights for 2 reward_funcs"),
    (["--max_steps", "many"], r"command line: max_steps: Input should be a valid integer"),
    (["--dtype", "int4"], r"command line: dtype: Input should be 'float32'"),
    (["--alpha", "-1"], r"alpha: must be a finite number >= 0"),
])
def test_bad_fields_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(None, REQUIRED + override, preset="tiny")


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m\n  train_data: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_train_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_train_config(listed)
    typo = tmp_path / "typo.yaml"
    typo.write_text("model: m\ntrain_data: d\nnum_generation: 4\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml: unknown field 'num_generation'; did you mean num_generations"):
        load_train_config(typo)
    with pytest.raises(ConfigError, match=r"model: Field required"):
        load_train_config(None, ["--train_data", "d"])
    with pytest.raises(ConfigError, match="preset: 'r1vl-70b' is not one of"):
        load_train_config(None, REQUIRED, preset="r1vl-70b")


def test_overrides_parse_yaml_scalars():
    assert parse_overrides(["--a", "1e-6", "--b=[1, 2]", "--flag", "--c", "x"]) == {
        "a": 1e-6, "b": [1, 2], "flag": True, "c": "x"}
    with pytest.raises(ConfigError, match="expected --key value"):
        parse_overrides(["stray"])


def test_config_defaults_follow_r1vl_loss():
    args = StepGRPOConfig(output_dir="x", use_cpu=True, bf16=False)
    assert (args.loss_type, args.beta, args.num_iterations, args.scale_rewards) == ("grpo", 0.04, 1, "group")


def test_train_command_stops_on_bad_config_before_loading(tmp_path):
    from typer.testing import CliRunner

    from stepgrpo.cli import app

    result = CliRunner().invoke(app, ["train", "--preset", "tiny", "--model", str(tmp_path / "absent"),
                                      "--train_data", "d.jsonl", "--temperatur", "1.0"])
    assert result.exit_code == 2
    assert "command line: unknown field 'temperatur'; did you mean temperature" in result.output

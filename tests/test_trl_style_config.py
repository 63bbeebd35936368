"""TRL-style recipes: `--config recipe.yaml` plus flags, TRL's / open-r1's field names, every problem
reported at once before TRL or torch is imported, `--help` listing every field."""

from __future__ import annotations

import os

import pytest
from test_install_light import stepgrpo_light

from stepgrpo.cli.train import split_config_argument
from stepgrpo.training import field_table, fields
from stepgrpo.training.config import ConfigError, load_train_config
from stepgrpo.training.recipe import check_command_line


def test_the_shipped_field_table_is_the_live_dataclasses():
    """Fails after a config class or TRL's version changes: run `python -m stepgrpo.training.fields --write`."""
    live = fields.generate()
    assert live["VERSIONS"] == field_table.VERSIONS
    assert live["FIELDS"] == field_table.FIELDS
    assert fields.table("train") is field_table.FIELDS["train"]


def online(monkeypatch) -> None:
    """As for a user with network access (the test session runs offline)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_a_table_made_for_other_versions_is_not_used(monkeypatch):
    online(monkeypatch)
    monkeypatch.setattr(field_table, "VERSIONS", {"trl": "0.0.1", "transformers": "0.0.1"})
    assert fields.table("train") is None
    # the trainer fields then pass the quick check and are checked against the live dataclasses
    check_command_line(None, ["--model", "org/name", "--train_data", "org/data", "--max_steps", "x"], None, "train")
    with pytest.raises(ConfigError, match="max_steps: Input should be a valid integer"):
        load_train_config(None, ["--model", "org/name", "--train_data", "org/data", "--max_steps", "x"])


def test_trl_names_and_recipe_file(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model_name_or_path: Qwen/Qwen2-VL-2B-Instruct\ndataset_name: org/rows\ndataset_config: hard\n"
                      "dataset_train_split: train[:90%]\nuse_peft: true\nlora_alpha: 32\nlora_target_modules: "
                      "[q_proj, v_proj]\ntorch_dtype: bfloat16\nattn_implementation: sdpa\nmodel_revision: main\n"
                      "learning_rate: 1.0e-6\nenv:\n  STEPGRPO_RECIPE_TEST: set\n")
    config, rest = split_config_argument(["--config", str(recipe), "--learning_rate", "2e-6", "--lora_r", "8"])
    assert config == recipe and rest == ["--learning_rate", "2e-6", "--lora_r", "8"]
    run, args = load_train_config(config, rest, preset="tiny")
    assert (run.model, run.train_data, run.dtype) == ("Qwen/Qwen2-VL-2B-Instruct", "org/rows", "bfloat16")
    assert args.learning_rate == 2e-6 and args.max_completion_length == 32  # flag > file > preset
    assert run.lora_settings() == {"r": 8, "lora_alpha": 32, "lora_dropout": 0.05,
                                   "target_modules": ["q_proj", "v_proj"], "modules_to_save": None,
                                   "use_rslora": False, "use_dora": False, "task_type": "CAUSAL_LM"}
    assert run.model_kwargs() == {"attn_implementation": "sdpa"}
    source = run.train_source()
    assert (source, source.config, source.split) == ("org/rows", "hard", "train[:90%]")
    assert run.eval_source() is None
    evaluation = run.model_copy(update={"dataset_test_split": "test"}).eval_source()
    assert (evaluation, evaluation.config, evaluation.split) == ("org/rows", "hard", "test")
    assert os.environ.pop("STEPGRPO_RECIPE_TEST") == "set"  # TrlParser's `env:` mapping
    assert split_config_argument([str(recipe), "--max_steps", "2"]) == (recipe, ["--max_steps", "2"])
    assert split_config_argument(["--config=r.yaml"])[0].name == "r.yaml"
    with pytest.raises(ConfigError, match="one recipe file"):
        split_config_argument([str(recipe), "--config", "other.yaml"])


def test_lora_switches():
    base = ["--model", "m", "--train_data", "d"]
    assert load_train_config(None, base)[0].lora_settings() is None
    assert load_train_config(None, [*base, "--use_peft"])[0].lora_settings()["r"] == 16  # TRL's default rank
    assert load_train_config(None, [*base, "--lora_r", "4"])[0].lora_settings()["r"] == 4
    assert load_train_config(None, [*base, "--lora_r", "4", "--use_peft", "false"])[0].lora_settings() is None


def test_every_problem_at_once(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model_name_or_path: m\nmodel: n\nlerning_rate: 1\nloss_type: ppo\nmax_steps: many\n"
                      "load_in_4bit: true\nsave_strategy: sometimes\nlora_dropout: 2\n")
    with pytest.raises(ConfigError) as raised:
        load_train_config(recipe, ["--num_generation", "4", "--train_data", "d"])
    lines = str(raised.value).splitlines()
    expected = ["bad.yaml: model: same field as model_name_or_path",
                "bad.yaml: unknown field 'lerning_rate'; did you mean learning_rate",
                "bad.yaml: loss_type: 'ppo' is not allowed",
                "bad.yaml: max_steps: Input should be a valid integer",
                "bad.yaml: load_in_4bit: True is not supported by stepgrpo",
                "bad.yaml: save_strategy: 'sometimes' is not allowed; choose one of no, steps, epoch, best",
                "command line: unknown field 'num_generation'; did you mean num_generations",
                "bad.yaml: lora_dropout: Input should be less than 1"]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert start in line, lines


def test_bad_recipe_reported_without_torch(tmp_path):
    """The CLI names every problem, a missing local model folder included, in an interpreter where
    torch, transformers and TRL cannot be imported: nothing heavy runs before the check."""
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model_name_or_path: ./models/missing\ndataset_name: rows.jsonl\nlerning_rate: 1\n"
                      "num_generations: four\n")
    result = stepgrpo_light("train", "--config", str(recipe), "--temperatur", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "pip install" not in result.stderr
    errors = result.stderr.splitlines()
    assert errors[0].startswith("error: ") and len(errors) == 5, errors
    for needle in ("unknown field 'lerning_rate'", "num_generations: Input should be a valid integer",
                   "command line: unknown field 'temperatur'", "model: no such model folder ./models/missing",
                   "train_data: no such file or folder rows.jsonl"):
        assert any(needle in line for line in errors), errors


def test_model_paths_and_hub_ids(tmp_path, monkeypatch):
    online(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.jsonl").write_text("{}\n")
    (tmp_path / "runs").mkdir()
    (tmp_path / "empty").mkdir()

    def problems(model: str) -> str:
        try:
            check_command_line(None, ["--model", model, "--train_data", "rows.jsonl"], None, "train")
        except ConfigError as error:
            return str(error)
        return ""

    assert problems("Qwen/Qwen2-VL-2B-Instruct") == ""  # a hub id goes on to transformers
    assert problems("gpt2") == ""
    for local in ("./missing", "~/no/such/model", "/no/such/model", "runs/tiny-vml", "a/b/c"):
        assert problems(local) == f"model: no such model folder {local}"
    assert problems("empty") == "model: empty is not a model folder (no config.json)"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert problems("Qwen/Qwen2-VL-2B-Instruct") == ("model: no such model folder Qwen/Qwen2-VL-2B-Instruct (hub ids "
                                                     "are not fetched with HF_HUB_OFFLINE=1)")


@pytest.mark.parametrize("command, trainer", [("train", "GRPOConfig"), ("sft", "SFTConfig")])
def test_help_lists_every_field_without_torch(tmp_path, command, trainer):
    result = stepgrpo_light(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = " ".join(result.stdout.split())
    table = field_table.FIELDS[command]
    for name in ["model", "use_peft", "lora_r", *table]:
        assert f"--{name} " in text, name
    assert "--model (also --model_name_or_path)" in text and "--train_data (also --dataset_name)" in text
    assert f"TRL {trainer} settings" in text
    rate = table["learning_rate"]["default"]  # 1e-06 (GRPOConfig), 2e-05 (SFTConfig)
    assert f"--learning_rate [default: {rate}] The initial learning rate for AdamW." in text
    if command == "train":
        assert "--loss_type [default: grpo] TRL loss." in text and "Allowed: grpo, bnpo" in text


def test_problems_across_fields_at_once(tmp_path, monkeypatch):
    online(monkeypatch)
    args = ["--model", "org/m", "--train_data", "org/d", "--output_dir", str(tmp_path), "--reward_funcs",
            "[router_step]", "--reward_weights", "[1, 2, 3]", "--alpha", "-1", "--egsw", "{level: token}",
            "--max_prompt_length", "0"]
    with pytest.raises(ConfigError) as raised:
        load_train_config(None, args)
    lines = [line.strip() for line in str(raised.value).splitlines()]
    assert [line.split(":")[1].strip() for line in lines] == [
        "reward_funcs", "reward_weights", "alpha", "max_prompt_length", "egsw"], lines
    assert all(line.startswith("command line: ") for line in lines)
    with pytest.raises(ConfigError) as light:  # the same lines before TRL is imported
        check_command_line(None, args, None, "train")
    assert [line.strip() for line in str(light.value).splitlines()] == lines


def test_sft_fields_are_sfts(tmp_path):
    from stepgrpo.training.sft import StepSFTConfig

    args = ["--model", "org/m", "--train_data", "org/d", "--loss_type", "grpo", "--num_generations", "4"]
    with pytest.raises(ConfigError) as raised:
        check_command_line(None, args, None, "sft")
    assert "loss_type: 'grpo' is not allowed; choose one of nll, dft" in str(raised.value)
    assert "unknown field 'num_generations'" in str(raised.value)  # a GRPOConfig field
    with pytest.raises(ConfigError, match="command line: reasoning_format: 'xml' is not allowed"):
        check_command_line(None, [*args[:4], "--reasoning_format", "xml", "--output_dir", str(tmp_path)], None, "sft")
    _, config = load_train_config(None, [*args[:4], "--loss_type", "dft", "--output_dir", str(tmp_path)],
                                  config_cls=StepSFTConfig)
    assert config.loss_type == "dft"


def test_name_type_and_cross_field_problems_at_once_without_torch(tmp_path, monkeypatch):
    """One run names every problem, those across fields included (checks.py), in an interpreter where
    torch, transformers and TRL cannot be imported. (Measured by hand: about 1.4 s, docs/training.md.)"""
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model_name_or_path: org/model\ndataset_name: org/rows\nlerning_rate: 1\n"
                      "num_generations: four\nreasoning_format: router\nreward_funcs: [router_step, step_accuracy]\n"
                      "reward_weights: [1, 2, 3]\nalpha: -1\nlogprob_temperature: 0.5\nuse_vllm: true\n")
    online(monkeypatch)  # hub ids pass (the run itself would fetch them)
    result = stepgrpo_light("train", "--config", str(recipe), "--temperatur", "1", "--completion_table_steps", "0",
                            "--egsw", "{level: token}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "pip install" not in result.stderr
    errors = [line.removeprefix("error: ").strip().removeprefix(str(tmp_path) + "/")
              for line in result.stderr.splitlines()]
    expected = ["bad.yaml: unknown field 'lerning_rate'", "bad.yaml: num_generations: Input should be a valid integer",
                "command line: unknown field 'temperatur'",
                "bad.yaml: reward_funcs: ['step_accuracy'] not allowed with reasoning_format router",
                "bad.yaml: reward_weights: 3 weights for 2 reward_funcs",
                "bad.yaml: alpha: must be a finite number >= 0",
                "command line: completion_table_steps: must be a positive integer",
                "bad.yaml: logprob_temperature: 0.5 differs from temperature 1.2",
                "command line: egsw: level 'token' is not allowed"]
    assert len(errors) == len(expected), errors
    for line, start in zip(errors, expected, strict=True):
        assert line.startswith(start), errors


OUTPUT = "{out}"
RULES = [  # (settings, the problem's start): each rule across fields once
    ({"reward_funcs": ["router_step"]}, "reward_funcs: ['router_step'] not allowed with reasoning_format r1vl"),
    ({"reasoning_format": "router", "reward_funcs": ["step_validity"], "reward_weights": [1.0]},
     "reward_funcs: ['step_validity'] not allowed with reasoning_format router"),
    ({"reward_weights": [1.0]}, "reward_weights: 1 weights for 2 reward_funcs"),
    ({"alpha": -0.5}, "alpha: must be a finite number >= 0"),
    ({"max_prompt_length": 0}, "max_prompt_length: must be a positive integer or null"),
    ({"completion_table_steps": -1}, "completion_table_steps: must be a positive integer or null"),
    ({"logprob_temperature": 0.0}, "logprob_temperature: must be > 0 or null"),
    ({"logprob_temperature": 1.0, "use_vllm": True}, "logprob_temperature: 1.0 differs from temperature 1.2"),
    ({"egsw": {"alpha": 0.1, "beta": 1}}, "egsw: unknown keys ['beta']"),
    ({"egsw": {"temperature": 0}}, "egsw: needs alpha >= 0 and temperature > 0"),
    ({"reasoning_format": "xml"}, "reasoning_format: 'xml' is not allowed; choose one of r1vl, think"),
    ({"router_kb": OUTPUT}, "router_kb: '{out}' needs reasoning_format router, got 'r1vl'"),
    ({"reasoning_format": "router", "reward_funcs": ["router_step"], "router_kb": OUTPUT},
     "router_kb: only used with router_rollout on_policy"),
    ({"reasoning_format": "router", "reward_funcs": ["router_step"], "router_rollout": "on_policy",
      "router_kb": OUTPUT}, "router_kb: {out} is not a knowledge-base index folder"),
    ({"reasoning_format": "router", "reward_funcs": ["router_step"], "router_rollout": "sometimes"},
     "router_rollout: 'sometimes' is not allowed; choose one of teacher, on_policy"),
    ({"reasoning_format": "router", "reward_funcs": ["router_step"], "advantage_mode": "step"},
     "advantage_mode: step-level credit needs sections to split; reasoning_format router"),
    ({"alpha": float("nan")}, "alpha: must be a finite number >= 0"),
    ({"step_advantage_coef": float("inf")}, "step_advantage_coef: must be a finite number"),
    ({"egsw": {"alpha": float("nan")}}, "egsw: needs alpha >= 0 and temperature > 0"),
    ({"resume_from_checkpoint": "somewhere"}, "resume_from_checkpoint: use --resume"),
]


def fill(value, out: str):
    if isinstance(value, str):
        return value.replace(OUTPUT, out)
    return value


@pytest.mark.parametrize("settings, start", RULES)
def test_each_rule_across_fields_runs_before_torch_and_in_the_dataclass(tmp_path, monkeypatch, settings, start):
    """The same rule (checks.py) in the light recipe check and in `StepGRPOConfig(...)` from Python."""
    import json

    from stepgrpo.training.config import StepGRPOConfig

    online(monkeypatch)
    out = str(tmp_path)
    settings = {key: fill(value, out) for key, value in settings.items()}
    start = start.replace(OUTPUT, out)
    flags = [part for key, value in settings.items() for part in (f"--{key}", json.dumps(value))]
    with pytest.raises(ConfigError) as light:
        check_command_line(None, ["--model", "org/m", "--train_data", "org/d", "--output_dir", out, *flags],
                           None, "train")
    lines = str(light.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"command line: {start}"), lines
    with pytest.raises(ConfigError) as built:
        StepGRPOConfig(output_dir=out, use_cpu=True, bf16=False, **settings)
    assert str(built.value).startswith(start) and "\n" not in str(built.value)

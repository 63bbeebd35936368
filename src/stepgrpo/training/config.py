"""Training configuration: `StepGRPOConfig` (TRL's `GRPOConfig` plus the step-wise fields) and the
YAML + `--key value` loader that validates everything before a model is loaded.

One flat namespace: a key is either a run field (`RunConfig`: model, data, LoRA, image size) or a
`StepGRPOConfig` field (ours or any of TRL's). Sources merge preset < YAML file < command line.
Unknown keys and bad values raise `ConfigError` naming the field, the source and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from trl import GRPOConfig

from stepgrpo.tasks import Task, TaskConfigError, task_for
from stepgrpo.tasks.registry import TASKS, get_task

REASONING_FORMATS = ("r1vl", "think", "router")
"""The built-in formats (help texts); the allowed ones come from the task registry (`stepgrpo.tasks`):
each task claims its formats, the R1-VL task every `parsing.register_format` format too."""
ADVANTAGE_MODES = ("sequence", "step")
EGSW_DEFAULTS: dict[str, Any] = {"alpha": 0.1, "temperature": 1.0, "level": "sequence"}
EGSW_LEVELS = ("sequence", "step")

# TRL reads these strings without checking them early; a typo would surface mid-run or not at all.
TRL_CHOICES: dict[str, tuple[str, ...]] = {
    "loss_type": ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo"),
    "scale_rewards": ("group", "batch", "none"),
    "vllm_mode": ("server", "colocate"),
    "importance_sampling_level": ("token", "sequence"),
    "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
}


class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (`save_strategy: no` stays "no"), and
    `1e-6` is a float (YAML 1.1 reads it as a string)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


class ConfigError(ValueError):
    """A configuration problem, reported before any model loads."""


@dataclass
class StepGRPOConfig(GRPOConfig):
    """`GRPOConfig` with StepGRPO's fields. Defaults that differ from TRL follow R1-VL's loss
    (docs/training.md, "Loss fidelity"): `loss_type="grpo"` (per-sequence mean, not DAPO's per-token),
    `beta=0.04` (k3 KL), one iteration per rollout batch, group-scaled rewards. The r1vl presets also
    set `use_bias_correction_kl: false` and `logprob_temperature: 1.0`, which make the loss R1-VL's."""

    reward_funcs: list[str] = field(
        default_factory=lambda: ["step_accuracy", "step_validity"],
        metadata={"help": "Reward functions by name, summed with `reward_weights`; the task of `reasoning_format` "
                          "says which (R1-VL formats: step_accuracy, step_validity, outcome; router: router_step, "
                          "answer_step). R1-VL: r = r_auc (step_accuracy) + r_val (step_validity)."},
    )
    alpha: float = field(default=0.1, metadata={"help": "StepRAR key-step weight α: r_auc = outcome + α·k."})
    reasoning_format: str = field(
        default="r1vl",
        metadata={"help": f"Section format of prompts and completions; selects the task (`stepgrpo.tasks`). Built in: "
                          f"{REASONING_FORMATS}, plus any format added with `stepgrpo.parsing.register_format`."})
    advantage_mode: str = field(
        default="sequence",
        metadata={"help": f"How rewards become advantages. Allowed: {ADVANTAGE_MODES}. `sequence`: TRL's group-"
                          "normalised scalar per completion, broadcast to every token (R1-VL). `step`: plus "
                          "`step_advantage_coef` times the reward-to-go of per-step rewards, normalised within the "
                          "group at each step position, per token (docs/algorithms.md)."})
    step_advantage_coef: float = field(
        default=1.0,
        metadata={"help": "advantage_mode step: weight c in A = Â + c·Ã of the step returns Ã (0: plain GRPO)."})
    egsw: dict[str, Any] | None = field(
        default=None,
        metadata={"help": "Entropy-guided sequence weighting (arXiv 2503.22456): a mapping with `alpha` (entropy "
                          "weight, >= 0, default 0.1), `temperature` (P > 0, default 1.0) and `level` "
                          f"({'|'.join(EGSW_LEVELS)}, default sequence). None: off."})
    max_prompt_length: int | None = field(
        default=None,
        metadata={"help": "Refuse (never truncate) prompts longer than this many tokens, image tokens included; "
                          "the error names the row. None: no limit (TRL 1.16 does not truncate prompts)."})
    router_embedding_model: str | None = field(
        default=None,
        metadata={"help": "R1-Router `router_step` reward: local sentence-transformers folder for the query "
                          "similarity (paper: BGE-M3). None: the lexical fallback (docs/router.md)."})
    router_rollout: str = field(
        default="teacher",
        metadata={"help": "R1-Router training data. Allowed: teacher, on_policy. `teacher`: teacher-forced step rows "
                          "(the paper). `on_policy`: questions, rolled out by the policy through the whole "
                          "router-answer loop with `router_kb` retrieval (our extension, docs/router.md)."})
    router_kb: str | None = field(
        default=None,
        metadata={"help": "router_rollout on_policy: the knowledge-base index folder that rollouts retrieve from "
                          "(`stepgrpo kb build`; `router-world` writes WORLD/kb)."})
    completion_table_steps: int | None = field(
        default=None,
        metadata={"help": "Print a table of sample completions with their rewards every N optimizer steps and "
                          "save it under output_dir/completions/. None: never."})
    # Paper defaults (see the class docstring).
    loss_type: str = field(default="grpo", metadata={"help": f"TRL loss. Allowed: {TRL_CHOICES['loss_type']}."})
    beta: float = field(default=0.04, metadata={"help": "KL coefficient (k3 estimator)."})
    temperature: float = field(default=1.2, metadata={"help": "Sampling temperature (R1-VL: 1.2)."})
    logprob_temperature: float | None = field(
        default=None,
        metadata={"help": "Temperature of the log-probabilities in the loss (policy and reference, hence ratio, KL "
                          "and entropy). None: the sampling temperature, as TRL. R1-VL's code: 1.0 (its TRL 0.14 "
                          "scored completions with the raw logits); the r1vl presets set it."})
    num_generations: int | None = field(default=4, metadata={"help": "Completions per prompt, G (R1-VL: 4)."})

    def __post_init__(self) -> None:
        for name, allowed in (("advantage_mode", ADVANTAGE_MODES), *TRL_CHOICES.items()):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not allowed; choose one of {', '.join(allowed)}")
        task = self.task()
        known = list(task.reward_factories(self))
        bad = [name for name in self.reward_funcs if name not in known]
        if bad or not self.reward_funcs:
            raise ConfigError(f"reward_funcs: {bad or '[]'} not allowed with reasoning_format "
                              f"{self.reasoning_format}; choose from {', '.join(known)}")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.reward_funcs):
            raise ConfigError(f"reward_weights: {len(self.reward_weights)} weights for "
                              f"{len(self.reward_funcs)} reward_funcs {self.reward_funcs}")
        if self.alpha < 0:
            raise ConfigError(f"alpha: must be >= 0, got {self.alpha}")
        self._check_logprob_temperature()
        if self.egsw is not None:
            self.egsw = _egsw_settings(self.egsw)
        self._check_task(task)
        for name in ("max_prompt_length", "completion_table_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}: must be a positive integer or null, got {value}")
        super().__post_init__()

    def _check_logprob_temperature(self) -> None:
        scoring = self.logprob_temperature
        if scoring is None:
            return
        if not scoring > 0:
            raise ConfigError(f"logprob_temperature: must be > 0 or null, got {scoring}")
        if scoring != self.temperature and self.use_vllm and self.vllm_importance_sampling_correction:
            raise ConfigError(f"logprob_temperature: {scoring} differs from temperature {self.temperature}, so "
                              "vLLM's sampling log-probs cannot correct the trainer's; set "
                              "vllm_importance_sampling_correction to false (R1-VL's code had no such correction) "
                              "or logprob_temperature to null")

    def task(self) -> Task:
        """The task that `reasoning_format` selects (`stepgrpo.tasks`)."""
        try:
            return task_for(self.reasoning_format)
        except TaskConfigError as error:
            raise ConfigError(str(error)) from None

    def _check_task(self, task: Task) -> None:
        """Other tasks' settings left at their defaults, the task's own checks, and step-level credit
        only where the task can split completions into steps."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        for name in TASKS:
            other = get_task(name)
            for setting in [s for s in (() if other is task else other.settings) if s not in task.settings]:
                default = fields[setting].default
                if default is dataclasses.MISSING:
                    default = fields[setting].default_factory()  # type: ignore[misc]
                if getattr(self, setting) != default:
                    raise ConfigError(f"{setting}: {getattr(self, setting)!r} needs reasoning_format "
                                      f"{' or '.join(other.formats())}, got {self.reasoning_format!r}")
        try:
            task.validate(self)
        except TaskConfigError as error:
            raise ConfigError(str(error)) from None
        step_level = self.advantage_mode == "step" or (self.egsw or {}).get("level") == "step"
        if step_level and task.step_credit(self) is None:
            raise ConfigError(f"advantage_mode: step-level credit (advantage_mode step, egsw level step) needs steps "
                              f"to split; the {task.name} task has none with these settings")


def _egsw_settings(value: Any) -> dict[str, Any]:
    """`egsw` with defaults filled in, or a ConfigError naming the bad key."""
    if not isinstance(value, dict):
        raise ConfigError(f"egsw: expected a mapping with alpha, temperature, level, got {value!r}")
    unknown = sorted(set(value) - set(EGSW_DEFAULTS))
    if unknown:
        raise ConfigError(f"egsw: unknown keys {unknown}; allowed: {', '.join(EGSW_DEFAULTS)}")
    settings = {**EGSW_DEFAULTS, **value}
    try:
        alpha, temperature = float(settings["alpha"]), float(settings["temperature"])
    except (TypeError, ValueError):
        raise ConfigError(f"egsw: alpha and temperature must be numbers, got {value!r}") from None
    if alpha < 0 or not temperature > 0:
        raise ConfigError(f"egsw: needs alpha >= 0 and temperature > 0, got alpha={alpha}, temperature={temperature}")
    if settings["level"] not in EGSW_LEVELS:
        raise ConfigError(f"egsw: level {settings['level']!r} is not allowed; choose one of {', '.join(EGSW_LEVELS)}")
    return {"alpha": alpha, "temperature": temperature, "level": settings["level"]}


class RunConfig(pydantic.BaseModel):
    """What to train on and with: everything that is not a trainer argument."""

    model_config = pydantic.ConfigDict(extra="forbid")

    model: str = pydantic.Field(description="Local model folder (or a hub id, downloaded by transformers).")
    train_data: str = pydantic.Field(description="JSONL / JSON / parquet file or saved datasets folder.")
    eval_data: str | None = None
    limit: int | None = pydantic.Field(None, ge=1, description="Use only the first N rows.")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    min_pixels: int | None = pydantic.Field(None, ge=1, description="Image processor lower bound (pixels).")
    max_pixels: int | None = pydantic.Field(None, ge=1, description="Image processor upper bound (R1-VL: 400000).")
    lora_r: int | None = pydantic.Field(None, ge=1, description="LoRA rank; None trains all weights.")
    lora_alpha: int = 16
    lora_dropout: float = pydantic.Field(0.05, ge=0, lt=1)
    lora_target_modules: str | list[str] = "all-linear"


def _trl_fields(config_cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_cls) if f.init}


def preset_names() -> list[str]:
    folder = resources.files("stepgrpo.training") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"preset: {name!r} is not one of {', '.join(names)}")
    text = (resources.files("stepgrpo.training") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")
    return _load_yaml(text) or {}


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value, got {type(data).__name__}")
    return data


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """`--key value` / `--key=value` pairs → dict, values parsed as YAML scalars (`1e-6`, `[1, 2]`)."""
    out: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if index + 1 >= len(args) or args[index + 1].startswith("--"):
                value = "true"  # a bare flag
            else:
                index += 1
                value = args[index]
        out[key.replace("-", "_")] = _load_yaml(value) if value != "" else ""
        index += 1
    return out


def _validate_field(name: str, value: Any, field_: dataclasses.Field, source: str, grpo: bool) -> Any:
    try:
        value = pydantic.TypeAdapter(field_.type).validate_python(value)
    except pydantic.ValidationError as error:
        detail = "; ".join(e["msg"] for e in error.errors())
        raise ConfigError(f"{source}: {name}: {detail} (got {value!r})") from None
    choices = {**TRL_CHOICES, "advantage_mode": ADVANTAGE_MODES}
    allowed = choices.get(name) if grpo else None
    if allowed and value not in allowed:
        raise ConfigError(f"{source}: {name}: {value!r} is not allowed; choose one of {', '.join(allowed)}")
    return value


def load_config(config_cls: type[GRPOConfig], layers: list[tuple[str, dict[str, Any]]],
                defaults: dict[str, Any] | None = None):
    """Merge `(source name, mapping)` layers in order and validate every key against `RunConfig`
    and `config_cls`; return `(RunConfig, config_cls instance)`."""
    trl_fields = _trl_fields(config_cls)
    run_keys = set(RunConfig.model_fields)
    merged: dict[str, Any] = dict(defaults or {})
    sources: dict[str, str] = {}
    for source, mapping in layers:
        for key, value in mapping.items():
            if key not in run_keys and key not in trl_fields:
                close = difflib.get_close_matches(key, [*run_keys, *trl_fields], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(f"{source}: unknown field {key!r}{hint}")
            if key in trl_fields:
                value = _validate_field(key, value, trl_fields[key], source, issubclass(config_cls, StepGRPOConfig))
            merged[key] = value
            sources[key] = source
    run_values = {key: merged.pop(key) for key in list(merged) if key in run_keys}
    try:
        run = RunConfig(**run_values)
    except pydantic.ValidationError as error:
        problems = []
        for e in error.errors():
            key = ".".join(str(part) for part in e["loc"])
            problems.append(f"{sources.get(key, 'config')}: {key}: {e['msg']}")
        raise ConfigError("\n".join(problems)) from None
    try:
        args = config_cls(**merged)
    except ConfigError as error:
        name = str(error).split(":", 1)[0]
        raise ConfigError(f"{sources.get(name, 'config')}: {error}") from None
    except (ValueError, TypeError) as error:
        raise ConfigError(f"trainer arguments: {error}") from None
    return run, args


# On CPU TRL's defaults would turn on bf16 autocast (1.6× slower) and fail without `use_cpu`.
def device_defaults() -> dict[str, Any]:
    import torch

    if torch.cuda.is_available():
        return {"bf16": True}
    return {"use_cpu": True, "bf16": False}


def load_train_config(config_path: str | Path | None = None, overrides: list[str] | None = None,
                      preset: str | None = None, config_cls: type[GRPOConfig] = StepGRPOConfig):
    """The `stepgrpo train` / `sft` configuration from a preset, a YAML file and `--key value` pairs."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if preset:
        layers.append((f"preset {preset}", read_preset(preset)))
    if config_path:
        layers.append((str(config_path), read_yaml(config_path)))
    if overrides:
        layers.append(("command line", parse_overrides(overrides)))
    given = {key for _, mapping in layers for key in mapping}
    if "output_dir" not in given:
        layers.append(("default", {"output_dir": "runs/stepgrpo"}))
    return load_config(config_cls, layers, defaults=device_defaults())


def config_from_mapping(settings: dict[str, Any], preset: str | None = None,
                        config_cls: type[GRPOConfig] = StepGRPOConfig, source: str = "python"):
    """`(RunConfig, config)` from a Python mapping over an optional preset, validated exactly like a
    YAML file (scripts and benchmarks build their runs this way)."""
    layers = [(f"preset {preset}", read_preset(preset))] if preset else []
    return load_config(config_cls, [*layers, (source, settings)], defaults=device_defaults())

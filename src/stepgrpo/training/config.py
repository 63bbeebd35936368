"""Training configuration: `StepGRPOConfig` (TRL's `GRPOConfig` plus the step-wise fields) and the
YAML + `--key value` loader that validates everything before a model is loaded.

One flat namespace: a key is either a run field (`RunConfig`: model, data, LoRA, image size) or a
`StepGRPOConfig` field (ours or any of TRL's). Sources merge preset < YAML file < command line.
Unknown keys and bad values raise `ConfigError` naming the field, the source and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import GRPOConfig

from stepgrpo.tasks import Task, TaskConfigError, task_for
from stepgrpo.training import fields
from stepgrpo.training.checks import (  # ADVANTAGE_MODES, EGSW_*: re-exported
    ADVANTAGE_MODES,
    EGSW_DEFAULTS,
    EGSW_LEVELS,
    choice_problems,
    egsw_settings,
    grpo_problems,
)
from stepgrpo.training.defaults import RunOutputDefaults
from stepgrpo.training.fields import TRL_CHOICES
from stepgrpo.training.recipe import (  # re-exported: the names callers import from here
    ConfigError,
    RunConfig,
    check_layers,
    parse_overrides,
    preset_names,
    read_preset,
    read_yaml,
    recipe_layers,
    sourced,
)

__all__ = ["ADVANTAGE_MODES", "EGSW_DEFAULTS", "EGSW_LEVELS", "ConfigError", "RunConfig",
           "StepGRPOConfig", "config_from_mapping", "load_config", "load_train_config",
           "parse_overrides", "preset_names", "read_preset", "read_yaml"]

REASONING_FORMATS = ("r1vl", "think", "router")
"""The built-in formats (help texts); the allowed ones come from the task registry (`stepgrpo.tasks`):
each task claims its formats, the R1-VL task every `parsing.register_format` format too."""


@dataclass
class StepGRPOConfig(RunOutputDefaults, GRPOConfig):
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
        problems = self.setting_problems()
        if problems:
            raise ConfigError("\n".join(problems))
        self.egsw = egsw_settings(self.egsw)[0]  # defaults filled in
        super().__post_init__()

    def setting_problems(self) -> list[str]:
        """Every problem across our fields, one line each starting with the field's name: the rules
        of `checks.py`, which the recipe check also runs before TRL is imported."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return choice_problems(values) + grpo_problems(values, field_defaults(type(self)))

    def task(self) -> Task:
        """The task that `reasoning_format` selects (`stepgrpo.tasks`)."""
        try:
            return task_for(self.reasoning_format)
        except TaskConfigError as error:
            raise ConfigError(str(error)) from None


def field_defaults(config_cls: type) -> dict[str, Any]:
    """Each init field's default value (what `checks.task_problems` compares settings with)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def load_config(config_cls: type[GRPOConfig], layers: list[tuple[str, dict[str, Any]]],
                defaults: dict[str, Any] | None = None):
    """Merge `(source name, mapping)` layers in order, check every key and value against `RunConfig`
    and the live fields of `config_cls` (all problems in one `ConfigError`), then build
    `(RunConfig, config_cls instance)`, whose own checks (across fields) come last."""
    run, settings, sources = check_layers(layers, fields.fields_of(config_cls))
    try:
        args = config_cls(**{**(defaults or {}), **settings})
    except ConfigError as error:  # one line per problem, each starting with its field
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ConfigError("\n  ".join(sourced(lines, sources))) from None
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
    return load_config(config_cls, recipe_layers(config_path, overrides, preset), defaults=device_defaults())


def config_from_mapping(settings: dict[str, Any], preset: str | None = None,
                        config_cls: type[GRPOConfig] = StepGRPOConfig, source: str = "python"):
    """`(RunConfig, config)` from a Python mapping over an optional preset, validated exactly like a
    YAML file (scripts and benchmarks build their runs this way)."""
    layers = [(f"preset {preset}", read_preset(preset))] if preset else []
    return load_config(config_cls, [*layers, (source, settings)], defaults=device_defaults())

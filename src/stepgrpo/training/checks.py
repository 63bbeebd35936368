"""Checks across trainer-config fields: pure functions over a plain mapping of resolved settings
(every field, defaults filled in), returning one problem per line, each starting with its field.

One implementation, run in two places: by the recipe check before TRL and torch are imported
(`recipe.check_command_line`, over the field table's defaults), so that `stepgrpo train|sft`
reports them with the name and type errors in about a second; and by
`StepGRPOConfig.__post_init__` / `StepSFTConfig.__post_init__`, so that a config built directly
from Python is checked the same way. Nothing here imports torch; the tasks' own checks
(`Task.validate`, `reward_factories`, `step_credit`) are called on a namespace of the settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from stepgrpo.tasks import Task, TaskConfigError, task_for
from stepgrpo.tasks.registry import TASKS, get_task
from stepgrpo.training.fields import TRL_CHOICES

ADVANTAGE_MODES = ("sequence", "step")
EGSW_DEFAULTS: dict[str, Any] = {"alpha": 0.1, "temperature": 1.0, "level": "sequence"}
EGSW_LEVELS = ("sequence", "step")


def choice_problems(values: Mapping[str, Any]) -> list[str]:
    """Values outside their allowed lists (the recipe check does these from the field table)."""
    return [f"{name}: {values[name]!r} is not allowed; choose one of {', '.join(allowed)}"
            for name, allowed in (("advantage_mode", ADVANTAGE_MODES), *TRL_CHOICES.items())
            if name in values and values[name] not in allowed]


def egsw_settings(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """`egsw` with its defaults filled in (None: off), or the problem naming the bad key."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        return None, f"egsw: expected a mapping with alpha, temperature, level, got {value!r}"
    unknown = sorted(set(value) - set(EGSW_DEFAULTS))
    if unknown:
        return None, f"egsw: unknown keys {unknown}; allowed: {', '.join(EGSW_DEFAULTS)}"
    settings = {**EGSW_DEFAULTS, **value}
    try:
        alpha, temperature = float(settings["alpha"]), float(settings["temperature"])
    except (TypeError, ValueError):
        return None, f"egsw: alpha and temperature must be numbers, got {value!r}"
    if not math.isfinite(alpha) or alpha < 0 or not math.isfinite(temperature) or not temperature > 0:
        return None, f"egsw: needs alpha >= 0 and temperature > 0, got alpha={alpha}, temperature={temperature}"
    if settings["level"] not in EGSW_LEVELS:
        return None, f"egsw: level {settings['level']!r} is not allowed; choose one of {', '.join(EGSW_LEVELS)}"
    return {"alpha": alpha, "temperature": temperature, "level": settings["level"]}, None


def logprob_temperature_problem(values: Mapping[str, Any]) -> str | None:
    scoring = values["logprob_temperature"]
    if scoring is None:
        return None
    if not scoring > 0:
        return f"logprob_temperature: must be > 0 or null, got {scoring}"
    if scoring != values["temperature"] and values["use_vllm"] and values["vllm_importance_sampling_correction"]:
        return (f"logprob_temperature: {scoring} differs from temperature {values['temperature']}, so vLLM's "
                "sampling log-probs cannot correct the trainer's; set vllm_importance_sampling_correction to false "
                "(R1-VL's code had no such correction) or logprob_temperature to null")
    return None


def task_of(reasoning_format: str) -> tuple[Task | None, str | None]:
    """The task that `reasoning_format` selects, or the problem listing the allowed formats."""
    try:
        return task_for(reasoning_format), None
    except TaskConfigError as error:
        return None, str(error)


def task_problems(task: Task, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Other tasks' settings left at their defaults, the task's own checks, and step-level credit
    only where the task can split completions into steps."""
    problems: list[str] = []
    for name in list(TASKS):
        other = get_task(name)
        for setting in [s for s in (() if other is task else other.settings) if s not in task.settings]:
            if setting in values and values[setting] != defaults.get(setting):
                problems.append(f"{setting}: {values[setting]!r} needs reasoning_format "
                                f"{' or '.join(other.formats())}, got {values['reasoning_format']!r}")
    args = SimpleNamespace(**values)
    try:
        task.validate(args)
    except TaskConfigError as error:
        return [*problems, str(error)]
    step_level = values["advantage_mode"] == "step" or (values["egsw"] or {}).get("level") == "step"
    weights = values["reward_weights"]
    matched = weights is None or len(weights) == len(values["reward_funcs"])  # step credit pairs them up
    if step_level and matched and task.step_credit(args) is None:
        problems.append(f"advantage_mode: step-level credit (advantage_mode step, egsw level step) needs steps to "
                        f"split; the {task.name} task has none with these settings")
    return problems


def grpo_problems(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Every problem across `StepGRPOConfig`'s fields (`values`: every field, resolved; `defaults`:
    each field's default, to tell a setting the user gave)."""
    problems: list[str] = []
    egsw, egsw_problem = egsw_settings(values["egsw"])
    values = {**values, "egsw": egsw}
    task, problem = task_of(values["reasoning_format"])
    if problem:
        problems.append(problem)
    funcs, weights = values["reward_funcs"], values["reward_weights"]
    if task is not None:
        known = list(task.reward_factories(SimpleNamespace(**values)))
        bad = [name for name in funcs if name not in known]
        if bad or not funcs:
            problems.append(f"reward_funcs: {bad or '[]'} not allowed with reasoning_format "
                            f"{values['reasoning_format']}; choose from {', '.join(known)}")
    if weights is not None and len(weights) != len(funcs):
        problems.append(f"reward_weights: {len(weights)} weights for {len(funcs)} reward_funcs {funcs}")
    if not math.isfinite(values["alpha"]) or values["alpha"] < 0:
        problems.append(f"alpha: must be a finite number >= 0, got {values['alpha']}")
    coef = values.get("step_advantage_coef")
    if coef is not None and not math.isfinite(coef):
        problems.append(f"step_advantage_coef: must be a finite number, got {coef}")
    if values.get("resume_from_checkpoint"):
        problems.append("resume_from_checkpoint: use --resume (newest complete checkpoint) or --resume PATH")
    for name in ("max_prompt_length", "completion_table_steps"):
        if values[name] is not None and values[name] < 1:
            problems.append(f"{name}: must be a positive integer or null, got {values[name]}")
    problems += [p for p in (logprob_temperature_problem(values), egsw_problem) if p]
    if task is not None and egsw_problem is None:  # the task's checks read a sound egsw
        problems += task_problems(task, values, defaults)
    return problems


def sft_problems(values: Mapping[str, Any]) -> list[str]:
    """Every problem across `StepSFTConfig`'s fields: the prompt format must be one a task trains."""
    return [problem for problem in [task_of(values["reasoning_format"])[1]] if problem]


def problems_of(kind: str, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """The checks across fields of `kind` (`train`: StepGRPOConfig, `sft`: StepSFTConfig)."""
    return grpo_problems(values, defaults) if kind == "train" else sft_problems(values)

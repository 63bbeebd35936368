"""The task registry: a task's module path by name, imported on first use (the R1-Router task
pulls in retrieval code that R1-VL runs never need). Adding a task = one new module exposing
`TASK` + one line in `TASKS` (or `register_task` from your own code)."""

from __future__ import annotations

import importlib

from stepgrpo.tasks.base import Task, TaskConfigError

TASKS: dict[str, str | Task] = {
    "r1vl": "stepgrpo.tasks.r1vl:TASK",  # R1-VL step reasoning: every parsing.FORMATS format
    "router": "stepgrpo.tasks.router:TASK",  # R1-Router Step-GRPO
}


def register_task(task: Task) -> Task:
    """Make `task` available (its `formats()` become valid `reasoning_format` values)."""
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    entry = TASKS[name]
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        entry = TASKS[name] = getattr(importlib.import_module(module), attribute)
    return entry


def reasoning_formats() -> list[str]:
    """Every `reasoning_format` some registered task trains, in registry order."""
    return [fmt for name in list(TASKS) for fmt in get_task(name).formats()]


def task_for(reasoning_format: str) -> Task:
    """The task that trains `reasoning_format`, or a `TaskConfigError` listing the allowed ones."""
    for name in list(TASKS):
        task = get_task(name)
        if reasoning_format in task.formats():
            return task
    raise TaskConfigError(f"reasoning_format: {reasoning_format!r} is not allowed; choose one of "
                          f"{', '.join(reasoning_formats())}")

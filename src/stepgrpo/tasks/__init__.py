"""Training tasks behind one seam (`base.Task`): R1-VL step reasoning (`r1vl`) and R1-Router
Step-GRPO (`router`). `stepgrpo.training` looks a task up by `reasoning_format` here and never
imports a task's own package. docs/training.md, "Tasks", shows how to add one."""

from stepgrpo.tasks.base import StepCredit, StepSplit, Task, TaskConfigError
from stepgrpo.tasks.registry import get_task, reasoning_formats, register_task, task_for

__all__ = ["StepCredit", "StepSplit", "Task", "TaskConfigError", "get_task", "reasoning_formats", "register_task",
           "task_for"]

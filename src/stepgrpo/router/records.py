"""Reference trajectories to R1-Router Step-GRPO training rows, one row per step state.

As in the official data (`data_combine.py`), a trajectory of n retrievals becomes: for each
retrieval a router row ("ret", target: the teacher's sub-question and knowledge base) and a
sub-answer row ("ans", target: the teacher's sub-answer); then, if n < 3, a router row whose
target is to stop (sub-question and knowledge base "none"); then the final-answer row ("ans",
target: the gold answers). Every prompt holds the teacher's history, not the policy's: each step
is trained on its own, teacher-forced, and its GRPO group is the samples of that one row.

Trajectory format (one JSON object per line; `image` relative to the file's folder)::

    {"id": "q1", "question": "...", "image": "imgs/q1.png" | null, "answer": "gold" | ["gold", ...],
     "steps": [{"sub_question": "...", "kb": "text" | "image_text" | "table",
                "retrieved": ["passage", ...], "sub_answer": "..."}, ...]}

`kb` also accepts the official labels ("Text Retriever", ...). Only the top 5 passages are shown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepgrpo.data.io import read_rows
from stepgrpo.router.format import (
    MAX_RETRIEVALS,
    NONE,
    answer_user_text,
    final_user_text,
    kb_from_label,
    router_user_text,
)
from stepgrpo.router.prompts import ANSWER_SYSTEM_PROMPT, FINAL_SYSTEM_PROMPT, ROUTER_SYSTEM_PROMPT


class TrajectoryError(ValueError):
    """Trajectories that cannot become training rows; the message lists each problem."""


class TrajectoryStep(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    sub_question: str = Field(min_length=1)
    kb: str
    retrieved: list[str] = Field(min_length=1)
    sub_answer: str = Field(min_length=1)

    @field_validator("kb")
    @classmethod
    def _known_kb(cls, value: str) -> str:
        kind = kb_from_label(value)
        if kind == NONE:
            raise ValueError("a retrieval step needs a knowledge base, not 'none' (stopping is implicit)")
        return kind

    @field_validator("sub_question")
    @classmethod
    def _not_none(cls, value: str) -> str:
        if value.lower() == NONE:
            raise ValueError("'none' is the stop signal, not a sub-question")
        return value


class Trajectory(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    image: str | None = None
    answer: list[str] = Field(min_length=1)
    steps: list[TrajectoryStep] = Field(max_length=MAX_RETRIEVALS)

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("answer")
    @classmethod
    def _answers_not_empty(cls, value: list[str]) -> list[str]:
        if any(not answer.strip() for answer in value):
            raise ValueError("answers must not be empty")
        return value


def step_rows(trajectory: Trajectory, images: list[str],
              final_wording: str = "train") -> list[dict[str, Any]]:
    """The training rows of one trajectory, in step order (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    history: list[tuple[str, str]] = []

    def add(step_type: str, role: str, system: str, problem: str, query: str = "", kb: str = "",
            answers: list[str] | None = None) -> None:
        rows.append({
            "id": f"{trajectory.id}/{len(rows)}-{role}",
            "trajectory_id": trajectory.id,
            "step_index": len(rows),
            "step_type": step_type,
            "role": role,
            "system": system,
            "problem": problem,
            "prompt": [{"role": "system", "content": system}, {"role": "user", "content": problem}],
            "images": images,
            "ref_query": query,
            "ref_kb": kb,
            "ref_answers": answers or [],
        })

    for step in trajectory.steps:
        add("ret", "router", ROUTER_SYSTEM_PROMPT, router_user_text(trajectory.question, history),
            query=step.sub_question, kb=step.kb)
        add("ans", "sub_answer", ANSWER_SYSTEM_PROMPT,
            answer_user_text(step.sub_question, {step.kb: step.retrieved}), answers=[step.sub_answer])
        history.append((step.sub_question, step.sub_answer))
    if len(trajectory.steps) < MAX_RETRIEVALS:
        add("ret", "router", ROUTER_SYSTEM_PROMPT, router_user_text(trajectory.question, history),
            query=NONE, kb=NONE)
    add("ans", "final", FINAL_SYSTEM_PROMPT, final_user_text(trajectory.question, history, final_wording),
        answers=trajectory.answer)
    return rows


def _describe(error: ValidationError, name: str) -> list[str]:
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        step = ""
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            step = f", step {loc[1] + 1}"
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "record"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"trajectory {name}{step}: field {field!r}: {message}")
    return problems


def trajectories_to_rows(path: str | Path, out: str | Path,
                         final_wording: str = "train") -> tuple[list[dict[str, Any]], list[str]]:
    """Validate every trajectory in `path`; return the rows (image paths relative to `out`'s folder)
    and the problems found, each naming the file line, the trajectory id and the step."""
    path, out = Path(path), Path(out)
    rows, row_errors = read_rows(path)
    problems = [str(error) for error in row_errors]
    result: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for row in rows:
        name = str(row.data.get("id", "?"))
        try:
            trajectory = Trajectory.model_validate(row.data)
        except ValidationError as error:
            problems += [f"{row.where}: {problem}" for problem in _describe(error, name)]
            continue
        if trajectory.id in seen:
            first = seen[trajectory.id]
            problems.append(f"{row.where}: trajectory {name}: field 'id': already used at {first}")
            continue
        seen[trajectory.id] = row.where
        images = []
        if trajectory.image:
            image = (path.parent / trajectory.image).resolve()
            if not image.is_file():
                problems.append(f"{row.where}: trajectory {name}: field 'image': no such file {image}")
                continue
            images.append(os.path.relpath(image, out.parent.resolve()))
        result += step_rows(trajectory, images, final_wording)
    return result, problems

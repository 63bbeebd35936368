"""R1-Router step rows (`stepgrpo router-data`) → the `datasets.Dataset` TRL's trainers take.

Selected by `reasoning_format: router` in `stepgrpo train` and `stepgrpo sft`. Each row is one
step state, so TRL's grouping (the `num_generations` samples of one prompt) is the paper's group:
the samples of one step state (the official EasyR1 fork gives each step row its own group uid;
docs/router.md, "Training").

Output columns: `prompt` (the step's system prompt and user text), `images` (only when some row
has one), `step_type`, `ref_query`, `ref_kb`, `ref_answers`, `row` (file:line, for errors) and,
for SFT, `completion`: the row's `reasoning` if it has one, else the reference output rebuilt from
the targets in the official format (`format.router_completion` / `format.answer_completion`).

Images: as in the official data (§1.3 item 5), when some rows have an image, the others get a
blank white one so that a vision-language batch is uniform. Ours is 56×56 (4 image tokens on the
tiny model's processor) where the paper's is 224×224; the paper also masks those tokens out of
attention, which TRL offers no hook for, so here the model sees a blank picture. Rows with images
need a vision-language model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepgrpo.data.io import RowError
from stepgrpo.router.format import NONE, answer_completion, kb_from_label, router_completion

BLANK_IMAGE_SIZE = 56


class StepRow(BaseModel):
    """The fields of a `router-data` row that training reads."""

    model_config = ConfigDict(extra="ignore")
    step_type: Literal["ret", "ans"]
    system: str = Field(min_length=1)
    problem: str = Field(min_length=1)
    images: list[str] = Field(default_factory=list, max_length=1)
    ref_query: str = ""
    ref_kb: str = ""
    ref_answers: list[str] = Field(default_factory=list)
    reasoning: str | None = None

    @model_validator(mode="after")
    def _targets(self) -> StepRow:
        if self.step_type == "ret":
            if not self.ref_query.strip():
                raise ValueError("ref_query: a router step needs the reference sub-question ('none' to stop)")
            self.ref_kb = kb_from_label(self.ref_kb)
            if (self.ref_kb == NONE) != (self.ref_query.strip().lower() == NONE):
                raise ValueError("ref_kb: must be 'none' exactly when ref_query is 'none'")
        elif not self.ref_answers or not all(answer.strip() for answer in self.ref_answers):
            raise ValueError("ref_answers: an answer step needs at least one non-empty reference answer")
        return self

    def completion(self) -> str:
        if self.reasoning:
            return self.reasoning
        if self.step_type == "ret":
            return router_completion(self.ref_query, self.ref_kb)
        return answer_completion(self.ref_answers[0])


def _problems(error: ValidationError) -> str:
    return "; ".join(f"field {'.'.join(str(p) for p in item['loc']) or 'record'!r}: "
                     f"{item['msg'].removeprefix('Value error, ')}" for item in error.errors())


def build_step_dataset(source: str | Path | Iterable[dict[str, Any]], reasoning_format: str = "router",
                       sft: bool = False, limit: int | None = None, skipped: list[RowError] | None = None):
    """Read R1-Router step rows into a `datasets.Dataset` (same signature as
    `stepgrpo.data.training.build_dataset`); every bad row is reported at once, by file:line, or,
    given a `skipped` list (`--skip-bad-rows`), left out and appended to it."""
    import datasets
    from PIL import Image

    from stepgrpo.data.training import convert_rows, settle_row_errors

    def convert(data: dict[str, Any], base: Path | None) -> dict[str, Any]:
        try:
            step = StepRow.model_validate(data)
        except ValidationError as error:
            raise ValueError(_problems(error)) from None
        images = [(base or Path.cwd()) / image for image in step.images]
        missing = [str(path) for path in images if not path.is_file()]
        if missing:
            raise ValueError(f"field 'images': no such file {missing[0]}")
        example: dict[str, Any] = {
            "prompt": [{"role": "system", "content": step.system}, {"role": "user", "content": step.problem}],
            "images": [str(path) for path in images],
            "step_type": step.step_type, "ref_query": step.ref_query, "ref_kb": step.ref_kb,
            "ref_answers": step.ref_answers,
        }
        if sft:
            example["completion"] = [{"role": "assistant", "content": step.completion()}]
        return example

    examples, errors, total = convert_rows(source, convert, limit)
    settle_row_errors(errors, examples, total, source, skipped)
    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    features: dict[str, Any] = {
        "prompt": [message], "step_type": datasets.Value("string"), "ref_query": datasets.Value("string"),
        "ref_kb": datasets.Value("string"), "ref_answers": datasets.List(datasets.Value("string")),
        "row": datasets.Value("string"),
    }
    if sft:
        features["completion"] = [message]
    if any(example["images"] for example in examples):
        blank = Image.new("RGB", (BLANK_IMAGE_SIZE, BLANK_IMAGE_SIZE), "white")
        for example in examples:
            example["images"] = example["images"] or [blank]
        features["images"] = datasets.List(datasets.Image())
    else:
        for example in examples:
            del example["images"]
    return datasets.Dataset.from_list(examples, features=datasets.Features(features))

"""Rows users bring → the `datasets.Dataset` TRL's GRPOTrainer and SFTTrainer take.

Accepted row fields (R1-VL-10K's layout and plain ones):

- `question` or `problem`: the question text. A `problem` that already carries the reasoning
  prompt (as R1-VL's do) is used verbatim; otherwise it is wrapped in the prompt of
  `reasoning_format`.
- `image` (a PIL image, bytes dict or path) or `image_path`: optional; relative paths are
  resolved against the data file's folder.
- `solution`: the ground truth (a bare answer or text with `### The final answer is: X`).
- `key_steps`: `{"Steps": [...]}` (R1-VL) or a plain list; each key step is a list of equivalent
  alternatives or a single string (one alternative). Optional: no key steps gives k = 0.
- `choices`: optional multiple-choice options, a list or a `{"A": ..., "B": ...}` mapping.
- `reasoning` (SFT only): the reference completion to imitate.

Output columns: `prompt` (chat messages), `image` (only if some row has one), `solution`,
`key_steps` (list of lists of strings), `choices` (list of strings or None), `row` (where the row
came from, so later errors can name it) and, for SFT, `completion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stepgrpo.cells import key_steps_cell
from stepgrpo.data.io import Row, RowError, iter_rows
from stepgrpo.data.prompts import PROMPTS, build_messages
from stepgrpo.parsing import FORMATS


class TrainingDataError(ValueError):
    """Rows that cannot be trained on; the message names each row and field."""

    def __init__(self, errors: list[RowError], total: int):
        self.errors = errors
        shown = "\n".join(f"  {error}" for error in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} of {total} rows cannot be used:\n{shown}{more}")


def settle_row_errors(errors: list[RowError], examples: list[Any], total: int, source: Any,
                      skipped: list[RowError] | None) -> None:
    """Raise for bad rows, or for no rows at all; with a `skipped` list (`--skip-bad-rows`), hand the
    bad rows to it and go on with the rest."""
    if errors and (skipped is None or not examples):
        raise TrainingDataError(errors, total)
    if not examples:
        raise TrainingDataError([RowError(str(source), "no rows")], 0)
    if skipped is not None:
        skipped.extend(errors)


def normalize_key_steps(value: Any) -> list[list[str]]:
    """R1-VL `{"Steps": [...]}`, a plain or mixed list, or their JSON text → a list of alternative groups."""
    return key_steps_cell(value, skip_empty=True)


def normalize_choices(value: Any) -> list[str] | None:
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None
    if isinstance(value, Mapping):
        return [str(value[key]) for key in sorted(value)]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"choices: expected a list or a letter → option mapping, got {type(value).__name__}")
    return [str(option) for option in value]


def _already_prompted(question: str, reasoning_format: str) -> bool:
    if reasoning_format not in PROMPTS:  # a `parsing.register_format` format with no prompt: rows bring theirs
        return True
    preamble = PROMPTS[reasoning_format].split("{question}")[0].strip()
    return preamble[:80] in question


def _image(data: dict[str, Any], base: Path | None) -> Any:
    image = data.get("image")
    if image is None and data.get("image_path"):
        image = str(data["image_path"])
    if isinstance(image, str):
        path = Path(image)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise ValueError(f"image: no such file {path}")
        return str(path)
    return image


def convert_row(data: dict[str, Any], reasoning_format: str = "r1vl", base: Path | None = None,
                sft: bool = False) -> dict[str, Any]:
    """One user row → one training example; raises ValueError naming the bad field."""
    question = data.get("question", data.get("problem"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question: missing or empty (give 'question' or 'problem')")
    solution = data.get("solution")
    if solution is None or (isinstance(solution, str) and not solution.strip()):
        raise ValueError("solution: missing or empty")
    if isinstance(solution, (dict, list)):
        raise ValueError(f"solution: expected text or a number, got {type(solution).__name__}")
    choices = normalize_choices(data.get("choices"))
    if _already_prompted(question, reasoning_format):
        prompt = [{"role": "user", "content": question}]
    else:
        prompt = build_messages(question, choices, reasoning_format)
    example = {
        "prompt": prompt,
        "image": _image(data, base),
        "solution": str(solution),
        "key_steps": normalize_key_steps(data.get("key_steps")),
        "choices": choices,
    }
    if sft:
        reasoning = data.get("reasoning", data.get("response"))
        if not isinstance(reasoning, str) or not reasoning.strip():
            raise ValueError("reasoning: missing or empty (SFT needs the reference reasoning)")
        example["completion"] = [{"role": "assistant", "content": reasoning}]
    return example


def build_dataset(source: str | Path | Iterable[dict[str, Any]], reasoning_format: str = "r1vl",
                  sft: bool = False, limit: int | None = None, skipped: list[RowError] | None = None):
    """Read `source` (a data file or folder, or rows in memory) into a `datasets.Dataset`.

    Every bad row is collected and reported at once (file:line and field) before anything trains.
    With a `skipped` list (`--skip-bad-rows`), bad rows are left out and appended to it instead;
    only a source with no usable row at all is still an error.
    """
    import datasets

    if reasoning_format not in PROMPTS and reasoning_format not in FORMATS:
        raise ValueError(f"unknown reasoning_format {reasoning_format!r}; allowed: {sorted({*PROMPTS, *FORMATS})}")
    if isinstance(source, (str, Path)):
        base = Path(source).parent if Path(source).is_file() else Path(source)
        items = iter_rows(source)
    else:
        base = None
        items = (Row(f"row {index}", dict(data)) for index, data in enumerate(source))
    examples: list[dict[str, Any]] = []
    errors: list[RowError] = []
    total = 0
    for item in items:
        if limit is not None and total >= limit:
            break
        total += 1
        if isinstance(item, RowError):
            errors.append(item)
            continue
        try:
            example = convert_row(item.data, reasoning_format, base, sft)
        except ValueError as error:
            errors.append(RowError(item.where, str(error)))
            continue
        example["row"] = item.where
        examples.append(example)
    has_images = [example["image"] is not None for example in examples]
    if any(has_images) and not all(has_images):
        errors += [RowError(example["row"], "image: missing while other rows have one")
                   for example in examples if example["image"] is None]
        examples = [example for example in examples if example["image"] is not None]
        has_images = [True] * len(examples)
    settle_row_errors(errors, examples, total, source, skipped)
    features = {
        "prompt": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        "solution": datasets.Value("string"),
        "key_steps": datasets.List(datasets.List(datasets.Value("string"))),
        "choices": datasets.List(datasets.Value("string")),
        "row": datasets.Value("string"),
    }
    if sft:
        features["completion"] = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
    if any(has_images):
        features["image"] = datasets.Image()
    else:
        for example in examples:
            del example["image"]
    return datasets.Dataset.from_list(examples, features=datasets.Features(features))

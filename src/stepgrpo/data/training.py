"""Rows users bring → the `datasets.Dataset` TRL's GRPOTrainer and SFTTrainer take.

Accepted row fields (R1-VL-10K's layout and plain ones):

- `question` or `problem`: the question text; or a `prompt` (TRL's layout: the last user turn of a
  conversation, or text). A question that already carries the reasoning prompt (as R1-VL's
  `problem` does) is used verbatim; otherwise it is wrapped in the prompt of `reasoning_format`.
- `image` (a PIL image, a datasets bytes/path dict, bytes or a path), `images` or `image_path` (a
  path or a one-entry list): optional; relative paths are resolved against the data file's folder
  (for a data folder: the folder, else the folder it is in).
- `solution`: the ground truth (a bare answer or text with `### The final answer is: X`); a row
  with a `messages` / `conversations` conversation and no `solution` uses its assistant turn.
- `key_steps`: `{"Steps": [...]}` (R1-VL) or a plain list; each key step is a list of equivalent
  alternatives or a single string (one alternative). Optional: no key steps gives k = 0.
- `choices`: optional multiple-choice options, a list or a `{"A": ..., "B": ...}` mapping.
- `reasoning` (SFT only): the reference completion to imitate (or the last assistant turn of
  `messages` / `conversations`).

Every layout `stepgrpo keysteps` writes (`keep`, `r1vl`, `trl`) is such a row.

Output columns: `prompt` (chat messages), `image` (only if some row has one), `solution`,
`key_steps` (list of lists of strings), `choices` (list of strings or None), `row` (where the row
came from, so later errors can name it) and, for SFT, `completion`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stepgrpo.cells import choices_cell, key_steps_cell
from stepgrpo.data.io import Row, RowError, iter_rows
from stepgrpo.data.layouts import CONVERSATION_FIELDS, DEFAULT_FIELDS, Fields, LayoutError
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
    """The options in letter order (`stepgrpo.cells.choices_cell` reads every cell form)."""
    options = choices_cell(value)
    return [text for _, text in sorted(options.items())] if options else None


def _already_prompted(question: str, reasoning_format: str) -> bool:
    if reasoning_format not in PROMPTS:  # a `parsing.register_format` format with no prompt: rows bring theirs
        return True
    preamble = PROMPTS[reasoning_format].split("{question}")[0].strip()
    return preamble[:80] in question


def _question(data: dict[str, Any]) -> Any:
    """`question` / `problem`, else the last user turn of a conversational `prompt` (`keysteps --layout trl`)
    or of `messages` / `conversations`, else a plain-text `prompt`."""
    question = data.get("question", data.get("problem"))
    if question is None and any(data.get(name) is not None for name in ("prompt", *CONVERSATION_FIELDS)):
        question = DEFAULT_FIELDS.question_of({name: data.get(name) for name in ("prompt", *CONVERSATION_FIELDS)})
    return question


def _image(data: dict[str, Any], base: Path | None) -> Any:
    """The row's one image: `image` (a PIL image, a datasets bytes/path dict, bytes or a path), or the
    single entry of `images` / `image_path` (keysteps' layouts write lists)."""
    image = data.get("image")
    for name in ("images", "image_path"):
        if image is None and data.get(name) is not None:
            image = data[name]
            if isinstance(image, list | tuple):
                if len(image) > 1:
                    raise ValueError(f"{name}: {len(image)} images; training takes one image per row")
                image = image[0] if image else None
    if isinstance(image, bytes):
        return {"bytes": image, "path": None}
    if isinstance(image, str | Path):
        path = Path(image).expanduser()
        if not path.is_absolute() and base is not None:
            # a data folder (e.g. `keysteps ... OUT` without a suffix) sits beside the images it names
            path = next((folder / path for folder in (base, base.parent) if (folder / path).is_file()), base / path)
        if not path.is_file():
            raise ValueError(f"image: no such file {path}")
        return str(path)
    return image


def _conversation_reasoning(data: dict[str, Any]) -> str | None:
    """The last assistant turn of `messages` / `conversations` (SFT rows), or None."""
    for name in CONVERSATION_FIELDS:
        if data.get(name):
            try:
                return Fields(reasoning=name).reasoning_of(data)
            except LayoutError:
                return None
    return None


def _reasoning(data: dict[str, Any]) -> Any:
    """SFT's reference completion: `reasoning` / `response`, else the conversation's assistant turn."""
    reasoning = data.get("reasoning", data.get("response"))
    return _conversation_reasoning(data) if reasoning is None else reasoning


def convert_row(data: dict[str, Any], reasoning_format: str = "r1vl", base: Path | None = None,
                sft: bool = False) -> dict[str, Any]:
    """One user row → one training example; raises ValueError naming the bad field."""
    question = _question(data)
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question: missing or empty (give 'question', 'problem' or a conversational 'prompt')")
    solution = data.get("solution")
    if solution is None:  # a conversation row: its reference answer ends with the final answer, as R1-VL-10K's
        solution = _conversation_reasoning(data)
    if solution is None or (isinstance(solution, str) and not solution.strip()):
        raise ValueError("solution: missing or empty")
    if isinstance(solution, (dict, list)):
        raise ValueError(f"solution: expected text or a number, got {type(solution).__name__}")
    choices = normalize_choices(data.get("choices"))
    image = _image(data, base)
    if image is not None:  # LLaVA / sharegpt placeholders: TRL inserts the model's own image tokens
        question = question.replace("<image>", "").strip()
    if _already_prompted(question, reasoning_format):
        prompt = [{"role": "user", "content": question}]
    else:
        prompt = build_messages(question, choices, reasoning_format)
    example = {
        "prompt": prompt,
        "image": image,
        "solution": str(solution),
        "key_steps": normalize_key_steps(data.get("key_steps")),
        "choices": choices,
    }
    if sft:
        reasoning = _reasoning(data)
        if not isinstance(reasoning, str) or not reasoning.strip():
            raise ValueError("reasoning: missing or empty (SFT needs the reference reasoning: 'reasoning', or an "
                             "assistant turn in 'messages')")
        example["completion"] = [{"role": "assistant", "content": reasoning}]
    return example


def convert_rows(source: str | Path | Iterable[dict[str, Any]],
                 convert: Callable[[dict[str, Any], Path | None], dict[str, Any]],
                 limit: int | None) -> tuple[list[dict[str, Any]], list[RowError], int]:
    """The first `limit` rows of `source` through `convert(data, base folder)`: (examples, each with its `row`
    place; bad rows, a `ValueError` from `convert` included; rows read). In-memory rows have no base folder."""
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
            example = convert(item.data, base)
        except ValueError as error:
            errors.append(RowError(item.where, str(error)))
            continue
        examples.append({**example, "row": item.where})
    return examples, errors, total


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
    examples, errors, total = convert_rows(source, lambda data, base: convert_row(data, reasoning_format, base, sft),
                                           limit)
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

"""`stepgrpo score FILE`: score completions with StepRAR + StepRVR, with the reasons."""

from __future__ import annotations

import math
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from stepgrpo.cells import key_steps_cell, plain, solution_cell
from stepgrpo.cli.app import app, console, error_console
from stepgrpo.data.io import DataFileError, Row, RowError, check_rows_output, iter_rows, write_rows
from stepgrpo.outputs import derived_output
from stepgrpo.parsing import get_format
from stepgrpo.rewards.accuracy import ALPHA, accuracy_report
from stepgrpo.rewards.trl import as_choices, completion_text
from stepgrpo.rewards.validity import validity_report

EXAMPLE = files("stepgrpo") / "examples" / "score_example.jsonl"


def score_row(row: Row, alpha: float, fmt: str) -> dict[str, Any]:
    """One row's rewards and reasons; raises `ValueError` naming the bad field."""
    data = row.data
    completion = plain(data.get("completion"))
    messages = [completion] if isinstance(completion, dict) else completion
    if not isinstance(completion, str) and not (
            isinstance(messages, list) and all(isinstance(message, dict | str) for message in messages)):
        raise ValueError(f"field 'completion': missing or not a string / conversation (got "
                         f"{type(completion).__name__})")
    solution = solution_cell(data.get("solution"))
    key_steps = key_steps_cell(data.get("key_steps"))
    try:
        choices = as_choices(data.get("choices"))
    except (ValueError, TypeError) as error:
        message = str(error).removeprefix("field 'choices': ")
        raise ValueError(f"field 'choices': {message}") from None
    text = completion_text(completion)
    accuracy = accuracy_report(text, solution, key_steps, choices, fmt)
    validity = validity_report(text, fmt)
    step_accuracy = accuracy.reward(alpha)
    step_validity = 1.0 if validity.ok else 0.0
    return {
        "id": data.get("id", row.where),
        "reward": step_accuracy + step_validity,
        "step_accuracy": step_accuracy,
        "step_validity": step_validity,
        "answer": accuracy.answer,
        "answer_correct": accuracy.correct,
        "key_steps_matched": [group[0] for group, hit in zip(key_steps, accuracy.matched, strict=True) if hit],
        "key_step_fraction": accuracy.key_step_fraction,
        "validity": validity.reason,
    }


@app.command()
def score(
    file: Annotated[Path | None, typer.Argument(help="JSONL/JSON/parquet rows: completion, solution, key_steps, "
                                                     "optional choices.")] = None,
    out: Annotated[Path | None, typer.Option(help="Per-row rewards (JSONL, JSON, parquet or a datasets folder). "
                                                  "Default: FILE.scores.jsonl beside FILE.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    alpha: Annotated[float, typer.Option(help="Weight of the key-step fraction in r_auc.")] = ALPHA,
    reasoning_format: Annotated[str, typer.Option("--format", help="Reasoning format: r1vl or think.")] = "r1vl",
    example: Annotated[bool, typer.Option(help="Score the bundled example file.")] = False,
) -> None:
    """Score completions with the paper's reward r = r_auc (StepRAR) + r_val (StepRVR)."""
    if example:
        file = Path(str(EXAMPLE))
        overwrite = overwrite or out is None  # the example's own default output is rewritten
        out = out or Path("runs/score_example.scores.jsonl")
    if file is None:
        raise typer.BadParameter("give a FILE or --example")
    try:
        get_format(reasoning_format)
        if not math.isfinite(alpha):
            raise ValueError(f"--alpha: must be a finite number, got {alpha}")
        items = list(iter_rows(file))
        out = check_rows_output(out or derived_output(file, "scores"), inputs=[file], overwrite=overwrite)
    except (ValueError, DataFileError) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for item in items:
        if isinstance(item, RowError):
            errors.append(str(item))
            continue
        try:
            results.append(score_row(item, alpha, reasoning_format))
        except ValueError as error:  # the message names the field
            errors.append(f"{item.where}: {error}")
        except Exception as error:  # one unreadable row must not stop the others
            errors.append(f"{item.where}: unreadable row ({type(error).__name__}: {error})")
    for message in errors:
        error_console.print(f"[red]skipped[/red] {message}")
    write_rows(out, results)
    console.print(_summary(results, len(errors)))
    console.print(f"per-row rewards and reasons: {out}")
    if errors:
        raise typer.Exit(1)


def _summary(results: list[dict[str, Any]], skipped: int) -> Table:
    table = Table(title="StepGRPO rewards (r = r_auc + r_val)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    n = len(results) or 1
    table.add_row("rows scored", str(len(results)))
    table.add_row("rows skipped", str(skipped))
    for key, label in [("reward", "mean reward"), ("step_accuracy", "mean r_auc (StepRAR)"),
                       ("step_validity", "mean r_val (StepRVR)"), ("answer_correct", "answer accuracy"),
                       ("key_step_fraction", "mean key-step fraction")]:
        table.add_row(label, f"{sum(float(r[key]) for r in results) / n:.3f}")
    for reason, count in Counter(r["validity"] for r in results if not r["step_validity"]).most_common():
        table.add_row(f"invalid: {reason}", str(count))
    return table

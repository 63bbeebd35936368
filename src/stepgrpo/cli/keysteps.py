"""`stepgrpo keysteps IN OUT`: add checked key steps to every row of a dataset."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stepgrpo.cli.app import app, console, error_console

if TYPE_CHECKING:
    from stepgrpo.keysteps.llm import ChatClient
    from stepgrpo.keysteps.pipeline import Summary


class ExtractorName(StrEnum):
    rules = "rules"
    llm = "llm"


class LayoutName(StrEnum):
    keep = "keep"
    r1vl = "r1vl"
    trl = "trl"


@app.command("keysteps")
def keysteps(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="Rows: .jsonl, .json list, .parquet or a saved "
                                            "datasets folder.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the rows with key steps (format "
                                             "by suffix; no suffix: a datasets folder). Written atomically; "
                                             "never an existing file unless --overwrite.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUT.")] = False,
    extractor: Annotated[ExtractorName, typer.Option(help="rules: offline, no network. llm: an OpenAI-compatible "
                                                     "chat endpoint.")] = ExtractorName.rules,
    reasoning_format: Annotated[str, typer.Option("--format", help="How the reference marks its steps "
                                                  "(a stepgrpo.parsing format: r1vl, think).")] = "r1vl",
    reasoning_field: Annotated[str | None, typer.Option(help="Field holding the reference reasoning: text, or a "
                                                        "conversation whose last assistant turn is used. "
                                                        "Default: messages, conversations, solution.")] = None,
    question_field: Annotated[str | None, typer.Option(help="Field holding the question. Default: problem, "
                                                       "question, prompt, or the conversation's user turn.")] = None,
    layout: Annotated[LayoutName, typer.Option(help="keep: the input rows plus key_steps (list of lists). r1vl: "
                                               "image_path/problem/solution/key_steps {'Steps': ...}. trl: prompt/"
                                               "image(s)/solution/key_steps.")] = LayoutName.keep,
    llm_base_url: Annotated[str | None, typer.Option(help="e.g. https://api.openai.com/v1 or "
                                                     "http://127.0.0.1:8000/v1 (vLLM, llama.cpp).")] = None,
    llm_model: Annotated[str | None, typer.Option(help="Model name the endpoint serves.")] = None,
    llm_api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key (none needed "
                                                 "for a local server).")] = "OPENAI_API_KEY",
    llm_concurrency: Annotated[int, typer.Option(min=1, help="Rows in flight at once.")] = 4,
    llm_timeout: Annotated[float, typer.Option(help="Seconds before a call is abandoned and retried.")] = 60.0,
    llm_retries: Annotated[int, typer.Option(min=0, help="Retries per call on 5xx/429, timeouts and "
                                             "malformed answers.")] = 4,
    llm_backoff: Annotated[float, typer.Option(help="First retry delay in seconds; doubles each time.")] = 1.0,
    llm_temperature: Annotated[float, typer.Option(help="Sampling temperature (R1-VL's script used 0.9).")] = 0.0,
    llm_json_mode: Annotated[bool, typer.Option(help="Ask for response_format json_object (turn off for "
                                                "servers that reject it).")] = True,
    cache_dir: Annotated[Path | None, typer.Option(help="On-disk cache of LLM answers. Default: "
                                                   "$XDG_CACHE_HOME/stepgrpo/keysteps.")] = None,
) -> None:
    """Extract key steps from each row's reference reasoning, check them, and write the rows out.

    Every key step is a list of equivalent forms; its first form matches the reference itself under
    StepRAR's matcher. Exit status: 0 when every row got key steps, 1 when some were skipped
    (each is named with its file position and reason), 2 for unusable input or options.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from stepgrpo.data.io import DataFileError, check_rows_output, read_rows, write_rows
    from stepgrpo.data.layouts import Fields
    from stepgrpo.keysteps import pipeline
    from stepgrpo.outputs import OutputError
    from stepgrpo.parsing import get_format

    try:
        fmt = get_format(reasoning_format)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    try:
        if not in_path.exists():
            raise DataFileError(f"{in_path}: no such file or folder")
        check_rows_output(out_path, inputs=[in_path], overwrite=overwrite)
    except (DataFileError, OutputError) as error:
        error_console.print(f"error: {error}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    client = None
    if extractor is ExtractorName.llm:
        if not llm_base_url or not llm_model:
            raise typer.BadParameter("--extractor llm needs --llm-base-url and --llm-model")
        from stepgrpo.keysteps.llm import ChatClient, LLMConfig, LLMExtractor

        client = ChatClient(LLMConfig(
            base_url=llm_base_url, model=llm_model, api_key_env=llm_api_key_env,
            cache_dir=cache_dir, timeout=llm_timeout, retries=llm_retries,
            backoff=llm_backoff, temperature=llm_temperature, json_mode=llm_json_mode))
        extract: pipeline.Extractor = LLMExtractor(client)
        concurrency = llm_concurrency
    else:
        from stepgrpo.keysteps.rules import extract_rule_based

        extract, concurrency = extract_rule_based, 1
    try:
        rows, bad = read_rows(in_path)
    except DataFileError as error:
        error_console.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(2) from None

    def report(outcome: pipeline.Outcome) -> None:
        progress.advance(task)
        if outcome.skip_reason:
            progress.console.print(f"skipped {outcome.where}: {outcome.message}", markup=False, highlight=False)

    with Progress(TextColumn("key steps"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=error_console) as progress:
        task = progress.add_task("rows", total=len(rows) + len(bad))
        try:
            summary = pipeline.run([*bad, *rows], extract, fmt, Fields(reasoning_field, question_field),
                                   layout.value, concurrency, on_row=report)
        finally:
            if client is not None:
                client.close()
    done = [outcome.row for outcome in summary.done if outcome.row is not None]
    if done:
        write_rows(out_path, done)
    _print_summary(summary, out_path if done else None, client)
    if summary.skipped:  # the last line, on both streams, says how many rows were skipped and why
        console.print(summary.skip_line(), markup=False, highlight=False)
        error_console.print(summary.skip_line(), markup=False, highlight=False)
        raise typer.Exit(1)


def _print_summary(summary: Summary, out_path: Path | None, client: ChatClient | None) -> None:
    from rich.table import Table

    table = Table(title="key-step extraction", show_header=False)
    table.add_row("rows done", str(len(summary.done)))
    for reason, count in sorted(summary.skip_counts().items()):
        table.add_row(f"skipped: {reason}", str(count))
    per_row = summary.key_steps_per_row()
    if per_row:
        counts = sorted(per_row.elements())
        table.add_row("key steps per row", f"min {counts[0]}, median {counts[len(counts) // 2]}, max {counts[-1]}")
    for reason, count in sorted(summary.dropped().items()):
        table.add_row(f"key steps dropped: {reason}", str(count))
    table.add_row("key steps repaired (form reordered)", str(summary.repaired()))
    if client is not None:
        table.add_row("LLM calls (retries) / cached", f"{client.calls} ({client.retries}) / {client.cache_hits}")
    table.add_row("written to", str(out_path) if out_path else "nothing written (no row got key steps)")
    console.print(table)

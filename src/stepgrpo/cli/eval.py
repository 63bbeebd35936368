"""`stepgrpo eval`: evaluate a model folder on a local copy of one benchmark, or score predictions
made elsewhere with the same rules (docs/eval.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stepgrpo.cli.app import app, console, error_console
from stepgrpo.eval.registry import NAMES

BENCHMARK_NAMES = ", ".join(NAMES)


@app.command("eval")
def eval_command(
    benchmark: Annotated[str, typer.Option("--benchmark", help=f"One of: {BENCHMARK_NAMES}.")],
    data: Annotated[Path, typer.Option(
        "--data", help="The benchmark as downloaded: HF dataset folder, GitHub release, or VLMEvalKit TSV.")],
    model: Annotated[Path | None, typer.Option("--model", help="Model folder (a local checkpoint).")] = None,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="Score this JSONL of {id, completion} made elsewhere instead of generating.")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Score an incomplete benchmark (or predictions for some items); marked partial.")
    ] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Evaluate only the first N items (marked partial).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Results folder (default: runs/eval/<model folder or predictions file name>).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace this benchmark's results in --out from an earlier run (the prediction cache "
                            "is kept and reused).")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows", help="Leave out items whose image cannot be read (listed in result.json; the run is "
                                "marked partial) instead of stopping.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Questions per generate call.")] = 8,
    backend: Annotated[str, typer.Option("--backend", help="hf, or vllm (optional extra, GPU).")] = "hf",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Paper: 2048.")] = 2048,
    prompt: Annotated[str, typer.Option(
        "--prompt", help="Reasoning prompt (and final-answer format read): r1vl (the paper's) or think.")] = "r1vl",
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="0 decodes greedily.")] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0, help="Used only when sampling.")] = 1.0,
    dtype: Annotated[str | None, typer.Option("--dtype", help="float32 (default), bfloat16, float16 or auto.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Generate (resuming from the per-sample cache) or read --predictions, score by the benchmark's
    rule, write results. The results folder, the benchmark and every image are checked before the
    model loads."""
    from stepgrpo.eval import GenerationSettings, evaluate, score_predictions
    from stepgrpo.eval.benchmarks import BenchmarkDataError
    from stepgrpo.eval.report import detail_table, load_results, summary_table

    if (model is None) == (predictions is None):
        error_console.print("[red]error:[/red] pass exactly one of --model (generate) and --predictions (score)")
        raise typer.Exit(2)
    source = model if model is not None else predictions
    assert source is not None
    out = out or Path("runs") / "eval" / default_results_name(source.resolve())
    try:
        if predictions is not None:
            if prompt not in ("r1vl", "think"):
                raise ValueError(f"unknown prompt {prompt!r}; choose from r1vl, think")
            result = score_predictions(benchmark, data, predictions, out, prompt_format=prompt,
                                       allow_partial=allow_partial, limit=limit, overwrite=overwrite)
        else:
            assert model is not None
            settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                          prompt_format=prompt, batch_size=batch_size)
            result = evaluate(benchmark, data, model, out, settings=settings, backend=backend, limit=limit,
                              dtype=dtype, progress=not quiet, allow_partial=allow_partial,
                              skip_bad_rows=skip_bad_rows, overwrite=overwrite,
                              log=lambda line: error_console.print(f"[yellow]note:[/yellow] {line}"))
    except (BenchmarkDataError, FileNotFoundError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message holds
        error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
        raise typer.Exit(2) from None
    for line in result.skipped:
        error_console.print(f"[yellow]skipped:[/yellow] {escape(line)}", highlight=False)
    console.print(detail_table(result))
    console.print(summary_table(load_results(out)))
    console.print(f"results: {out / result.benchmark / 'result.json'}; summary: {out / 'summary.md'}")


def default_results_name(source: Path) -> str:
    """The model folder's or predictions file's name; `train`/`sft` outputs all end in `final/`, so
    their parent's name comes first (`run-a-final`), and two trained models never share a folder."""
    return f"{source.parent.name}-{source.name}" if source.name == "final" and source.parent.name else source.name

"""`stepgrpo eval`: evaluate a model folder on a local copy of one benchmark (docs/eval.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stepgrpo.cli.app import app, console, error_console

BENCHMARK_NAMES = "mathvista, mmstar, mathvision, chartqa, dynamath, hallusionbench, mathverse, mme, chartmath"


@app.command("eval")
def eval_command(
    model: Annotated[Path, typer.Option("--model", help="Model folder (a local checkpoint).")],
    benchmark: Annotated[str, typer.Option("--benchmark", help=f"One of: {BENCHMARK_NAMES}.")],
    data: Annotated[Path, typer.Option("--data", help="The benchmark's files in their released layout.")],
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate only the first N items.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Results folder (default: runs/eval/<model folder name>).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Questions per generate call.")] = 8,
    backend: Annotated[str, typer.Option("--backend", help="hf, or vllm (optional extra, GPU).")] = "hf",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Paper: 2048.")] = 2048,
    prompt: Annotated[str, typer.Option("--prompt", help="Reasoning prompt: r1vl (the paper's) or think.")] = "r1vl",
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="0 decodes greedily.")] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0, help="Used only when sampling.")] = 1.0,
    dtype: Annotated[str | None, typer.Option("--dtype", help="float32 (default), bfloat16, float16 or auto.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Generate (resuming from the per-sample cache), score by the benchmark's rule, write results."""
    from stepgrpo.eval import GenerationSettings, evaluate
    from stepgrpo.eval.benchmarks import BenchmarkDataError
    from stepgrpo.eval.report import detail_table, load_results, summary_table

    out = out or Path("runs") / "eval" / model.name
    try:
        settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                      prompt_format=prompt, batch_size=batch_size)
        result = evaluate(benchmark, data, model, out, settings=settings, backend=backend, limit=limit,
                          dtype=dtype, progress=not quiet)
    except (BenchmarkDataError, FileNotFoundError, ValueError, RuntimeError) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(detail_table(result))
    console.print(summary_table(load_results(out)))
    console.print(f"results: {out / result.benchmark / 'result.json'}; summary: {out / 'summary.md'}")

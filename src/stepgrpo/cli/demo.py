"""`stepgrpo demo`: the embedded default, end to end on a CPU (docs/demo.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from stepgrpo.cli.app import app, console, error_console

QUICK = {"train_rows": 32, "test_rows": 8, "hidden_size": 64, "num_layers": 2, "sft_epochs": 1.0, "rl_steps": 2,
         "max_completion_length": 48}
"""`--quick`: a few steps of every stage, to check the pipeline (the numbers mean nothing)."""


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for data, models, report.md and the plots.")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the model, the SFT warm-up and RL sampling.")] = 0,
    rl_steps: Annotated[int | None, typer.Option(min=1, help="GRPO steps per variant.")] = None,
    sft_epochs: Annotated[float | None, typer.Option(min=0.0, help="Warm-up epochs over the training rows.")] = None,
    variants: Annotated[str | None, typer.Option(
        help="Comma-separated RL variants (see docs/demo.md); default: stepgrpo,outcome.")] = None,
    quick: Annotated[bool, typer.Option(help="A few steps of each stage only: checks the pipeline.")] = False,
) -> None:
    """Generate ChartMath, build a tiny Qwen2-VL, SFT it, then StepGRPO and outcome-only GRPO from
    the same checkpoint; evaluate all three on the test split and write OUT/report.md."""
    from stepgrpo.demo import DemoSettings, results_table, run_demo

    try:
        settings = DemoSettings(seed=seed, **(QUICK if quick else {}))
        changes = {"rl_steps": rl_steps, "sft_epochs": sft_epochs,
                   "variants": tuple(v.strip() for v in variants.split(",") if v.strip()) if variants else None}
        settings = replace(settings, **{key: value for key, value in changes.items() if value is not None})
    except ValueError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    _check_demo_folder(out)
    report = run_demo(out, settings)
    console.print(results_table(report["results"]))
    console.print(f"report: {out / 'report.md'}; wall time {report['wall_seconds']:.0f} s, "
                  f"peak memory {report['peak_memory_gb']:.2f} GB")


def _check_demo_folder(out: Path) -> None:
    """The demo rewrites its own folder on every run; it never writes into a folder holding anything else."""
    from stepgrpo.demo import VARIANTS
    from stepgrpo.outputs import OutputError, check_writable_place

    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; the demo writes a folder")
    own = {"data", "base", "sft", "eval", "report.md", "report.json", *VARIANTS}
    foreign = sorted(entry.name for entry in out.iterdir()
                     if entry.name not in own and entry.suffix not in {".png", ".svg"}) if out.is_dir() else []
    if foreign:
        raise OutputError(f"{out}: holds {', '.join(foreign[:3])}, which the demo did not write; choose another --out")
    check_writable_place(out / "report.md")

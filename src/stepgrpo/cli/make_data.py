"""`stepgrpo make-data TASK OUT`: generate a synthetic task offline (one sub-command per task)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stepgrpo.cli.app import app, error_console
from stepgrpo.data.chartmath import OPERATIONS, ChartMathConfig, write_dataset
from stepgrpo.outputs import check_writable_place

_D = ChartMathConfig()  # the library defaults, shown by --help

make_data = typer.Typer(help="Generate a synthetic training task (no model or data hub needed).",
                        no_args_is_help=True)
app.add_typer(make_data, name="make-data")


@make_data.command("chartmath")
def chartmath(
    out: Annotated[Path, typer.Argument(help="Folder for train.jsonl, test.jsonl and images/.")],
    train: Annotated[int, typer.Option(help="Training rows.")] = 2000,
    test: Annotated[int, typer.Option(help="Test rows (no chart is shared with train).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and settings give the same files.")] = 0,
    image_size: Annotated[int, typer.Option(help="Image side in pixels.")] = _D.image_size,
    min_bars: Annotated[int, typer.Option(help="Fewest bars per chart.")] = _D.min_bars,
    max_bars: Annotated[int, typer.Option(help="Most bars per chart (at most 8).")] = _D.max_bars,
    min_value: Annotated[int, typer.Option(help="Smallest bar height.")] = _D.min_value,
    max_value: Annotated[int, typer.Option(help="Largest bar height (y-axis top).")] = _D.max_value,
    operations: Annotated[str, typer.Option(
        help=f"Comma-separated kinds from: {', '.join(OPERATIONS)}.")] = ",".join(_D.operations),
    mcq_share: Annotated[float, typer.Option(help="Share of multiple-choice rows.")] = _D.mcq_share,
    value_labels: Annotated[bool, typer.Option(help="Print each bar's value above it.")] = _D.value_labels,
    chart_as_text: Annotated[bool, typer.Option(help="Give the chart as a text table in the question, for text-only "
                                                     "models (no images written).")] = _D.chart_as_text,
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset already in OUT.")] = False,
) -> None:
    """Bar charts with 2-3 step arithmetic questions, R1-VL-format reference reasonings and key steps."""
    try:
        config = ChartMathConfig(
            min_bars=min_bars, max_bars=max_bars, min_value=min_value, max_value=max_value,
            operations=tuple(op.strip() for op in operations.split(",") if op.strip()),
            mcq_share=mcq_share, image_size=image_size, value_labels=value_labels, chart_as_text=chart_as_text,
        )
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: is a file; make-data writes a folder")
        check_writable_place(out / "train.jsonl")
        counts = write_dataset(out, train, test, seed=seed, config=config, overwrite=overwrite, progress=True)
    except (ValueError, FileExistsError) as error:
        error_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {counts['train']} train and {counts['test']} test rows to {out}")

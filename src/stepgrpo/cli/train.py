"""`stepgrpo train CONFIG.yaml [--key value ...]`: StepGRPO reinforcement learning on TRL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stepgrpo.cli.app import app

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def split_config_argument(args: list[str]) -> tuple[Path | None, list[str]]:
    """The optional leading CONFIG.yaml, and the --key value pairs after it."""
    if args and not args[0].startswith("--"):
        return Path(args[0]), args[1:]
    return None, list(args)


def end_processes() -> None:
    """Destroy the process group (if `accelerate launch` made one) before the interpreter exits:
    left to atexit, gloo's threads can abort a rank with SIGABRT after a successful run."""
    from accelerate import PartialState

    PartialState().destroy_process_group()


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command("train", context_settings=EXTRA_ARGS)
def train_command(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option(help="Start from a preset (see docs/training.md): r1vl-2b, r1vl-7b, "
                                                                      "tiny, router-tiny, router-paper.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in output_dir.")] = False,
) -> None:
    """Train with StepGRPO: `stepgrpo train [CONFIG.yaml] [--key value ...]`.

    Settings come from the preset, then the YAML file, then --key value pairs (any field in
    docs/training.md), e.g. `stepgrpo train --preset tiny --model runs/tiny --train_data rows.jsonl`."""
    from stepgrpo.data.io import DataFileError
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.training.config import ConfigError, load_train_config
    from stepgrpo.training.lengths import PromptTooLongError

    try:
        config, overrides = split_config_argument(ctx.args)
        run, args = load_train_config(config, overrides, preset)
    except ConfigError as error:
        fail(str(error))
    from stepgrpo.training.run import train

    try:
        final = train(run, args, resume=resume)
    except (ConfigError, DataFileError, TrainingDataError, PromptTooLongError, FileNotFoundError) as error:
        fail(str(error))
    end_processes()
    typer.echo(f"saved the trained model to {final}")

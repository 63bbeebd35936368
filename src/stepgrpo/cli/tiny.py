"""`stepgrpo make-tiny-model`: a small random model with a real tokenizer, built offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stepgrpo.cli.app import app


@app.command("make-tiny-model")
def make_tiny_model(
    out: Annotated[Path, typer.Argument(help="Folder to write the model to.")],
    arch: Annotated[str, typer.Option(help="qwen2-vl, qwen2.5-vl or qwen2 (text only).")] = "qwen2-vl",
    seed: Annotated[int, typer.Option(help="Seed for the weights and the tokenizer corpus.")] = 0,
    hidden_size: Annotated[int, typer.Option(help="Text hidden size (a multiple of 16).")] = 64,
    num_layers: Annotated[int, typer.Option(help="Decoder layers.")] = 2,
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary size to train.")] = 1024,
    overwrite: Annotated[bool, typer.Option(help="Replace a model folder already in OUT (never another folder).")
                         ] = False,
) -> None:
    """Build a tiny randomly initialised model for tests, demos and CPU smoke runs (no download)."""
    from stepgrpo.models.tiny import ARCHES, build_tiny_model
    from stepgrpo.outputs import check_output

    if arch not in ARCHES:
        raise typer.BadParameter(f"{arch!r} is not one of: {', '.join(ARCHES)}", param_hint="--arch")
    check_output(out, overwrite=overwrite, replaceable=lambda folder: (folder / "config.json").is_file())
    try:
        path = build_tiny_model(out, arch=arch, seed=seed, hidden_size=hidden_size, num_layers=num_layers,
                                vocab_size=vocab_size)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(f"wrote {arch} model to {path}")

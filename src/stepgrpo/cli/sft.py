"""`stepgrpo sft CONFIG.yaml [--key value ...]`: warm-up on reference reasoning (TRL SFTTrainer)."""

from __future__ import annotations

from typing import Annotated

import typer

from stepgrpo.cli.app import app
from stepgrpo.cli.train import EXTRA_ARGS, end_processes, fail, split_config_argument


@app.command("sft", context_settings=EXTRA_ARGS)
def sft_command(
    ctx: typer.Context,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in output_dir.")] = False,
) -> None:
    """Supervised warm-up: `stepgrpo sft [CONFIG.yaml] [--key value ...]`.

    Rows as for `train` plus `reasoning` (the reference completion). The result in
    output_dir/final is a starting `model:` for `stepgrpo train`."""
    from stepgrpo.data.io import DataFileError
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.training.config import ConfigError, load_train_config
    from stepgrpo.training.lengths import PromptTooLongError
    from stepgrpo.training.sft import StepSFTConfig, sft

    try:
        config, overrides = split_config_argument(ctx.args)
        run, args = load_train_config(config, overrides, config_cls=StepSFTConfig)
        final = sft(run, args, resume=resume)
    except (ConfigError, DataFileError, TrainingDataError, PromptTooLongError, FileNotFoundError) as error:
        fail(str(error))
    end_processes()
    typer.echo(f"saved the warmed-up model to {final}")

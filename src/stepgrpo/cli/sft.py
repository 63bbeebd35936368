"""`stepgrpo sft [--config recipe.yaml] [--key value ...]`: warm-up on reference reasoning (TRL SFTTrainer)."""

from __future__ import annotations

from typing import Annotated

import typer

from stepgrpo.cli.app import app
from stepgrpo.cli.train import EXTRA_ARGS, check_recipe, end_processes, fail, fields_help


@app.command("sft", context_settings=EXTRA_ARGS, epilog=fields_help("sft"))
def sft_command(
    ctx: typer.Context,
    overwrite: Annotated[bool, typer.Option(help="Start over in an output_dir holding checkpoints of an earlier "
                                                 "run (deletes them).")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(help="Drop rows that cannot be used or whose images cannot be "
                                                     "read (named and counted) instead of stopping.")] = False,
) -> None:
    """Supervised warm-up: `stepgrpo sft [--config recipe.yaml] [--resume [PATH]] [--key value ...]`.

    Rows as for `train` plus `reasoning` (the reference completion). The result in
    output_dir/final is a starting `model:` for `stepgrpo train`. --resume works as for `train`."""
    resume, config, overrides = check_recipe(ctx.args, None, "sft")
    from stepgrpo.data.io import DataFileError
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.training.checkpoints import refuse_old_final
    from stepgrpo.training.config import ConfigError, load_train_config
    from stepgrpo.training.lengths import PromptTooLongError
    from stepgrpo.training.sft import StepSFTConfig, sft

    try:
        run, args = load_train_config(config, overrides, config_cls=StepSFTConfig)
        refuse_old_final(args.output_dir, resume, overwrite)
        final = sft(run, args, resume=resume, overwrite=overwrite, skip_bad_rows=skip_bad_rows)
    except (ConfigError, DataFileError, TrainingDataError, PromptTooLongError, FileNotFoundError) as error:
        fail(str(error))
    end_processes()
    typer.echo(f"saved the warmed-up model to {final}")

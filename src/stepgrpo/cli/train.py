"""`stepgrpo train CONFIG.yaml [--key value ...]`: StepGRPO reinforcement learning on TRL."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from stepgrpo.cli.app import app

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def shipped_presets() -> list[str]:
    """The preset names: one YAML file each in `stepgrpo/training/presets/` (a new file is a new preset).
    Read here without importing `training.config`, which pulls in TRL, so that `--help` stays fast."""
    folder = resources.files("stepgrpo.training") / "presets"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def split_resume_argument(args: list[str]) -> tuple[bool | str, list[str]]:
    """`--resume`, `--resume PATH` or `--resume=PATH` out of the extra arguments (a following
    `.yaml` file is the CONFIG, not a checkpoint), and the arguments left."""
    resume: bool | str = False
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("--resume="):
            resume = arg.split("=", 1)[1] or True
        elif arg == "--resume":
            following = args[index + 1] if index + 1 < len(args) else None
            if following is not None and not following.startswith("--") and \
                    not following.lower().endswith((".yaml", ".yml")):
                resume, index = following, index + 1
            else:
                resume = True
        else:
            rest.append(arg)
        index += 1
    return resume, rest


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


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command("train", context_settings=EXTRA_ARGS)
def train_command(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option(help="Start from a preset (see docs/training.md): "
                                                     f"{', '.join(shipped_presets())}.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start over in an output_dir holding checkpoints of an earlier "
                                                 "run (deletes them).")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(help="Drop rows that cannot be used or whose images cannot be "
                                                     "read (named and counted) instead of stopping.")] = False,
) -> None:
    """Train with StepGRPO: `stepgrpo train [CONFIG.yaml] [--resume [PATH]] [--key value ...]`.

    Settings come from the preset, then the YAML file, then --key value pairs (any field in
    docs/training.md), e.g. `stepgrpo train --preset tiny --model runs/tiny --train_data rows.jsonl`.
    Every row and image is checked before the model loads.

    --resume: continue from the newest complete checkpoint-N in output_dir (ones left incomplete
    by a crash during a save are skipped and named); --resume PATH: from that checkpoint."""
    from stepgrpo.data.io import DataFileError
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.training.config import ConfigError, load_train_config
    from stepgrpo.training.lengths import PromptTooLongError

    try:
        resume, rest = split_resume_argument(ctx.args)
        config, overrides = split_config_argument(rest)
        run, args = load_train_config(config, overrides, preset)
    except ConfigError as error:
        fail(str(error))
    from stepgrpo.training.run import train

    try:
        final = train(run, args, resume=resume, overwrite=overwrite, skip_bad_rows=skip_bad_rows)
    except (ConfigError, DataFileError, TrainingDataError, PromptTooLongError, FileNotFoundError) as error:
        fail(str(error))
    end_processes()
    typer.echo(f"saved the trained model to {final}")

"""`stepgrpo train [--config recipe.yaml | CONFIG.yaml] [--key value ...]`: StepGRPO reinforcement learning on TRL.

The recipe is checked (every unknown key, bad value, missing model folder or data path at once)
before TRL and torch are imported, so mistakes are reported in about a second."""

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
    """The recipe file (`--config PATH`, `--config=PATH` as TRL's scripts take it, or a leading
    CONFIG.yaml), and the --key value pairs left."""
    from stepgrpo.training.recipe import ConfigError

    configs: list[str] = []
    rest: list[str] = []
    index = 0
    if args and not args[0].startswith("--"):
        configs.append(args[0])
        index = 1
    while index < len(args):
        arg = args[index]
        if arg == "--config":
            if index + 1 >= len(args) or args[index + 1].startswith("--"):
                raise ConfigError("command line: --config needs a recipe file (--config recipe.yaml)")
            configs.append(args[index + 1])
            index += 1
        elif arg.startswith("--config="):
            configs.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        index += 1
    if len(configs) > 1:
        raise ConfigError(f"command line: one recipe file please, got {', '.join(configs)}")
    return (Path(configs[0]) if configs else None), rest


def fields_help(kind: str) -> str:
    """Every setting with its default and help, for `--help` (a paragraph per section, a line per setting)."""
    from rich.markup import escape

    from stepgrpo.training.fields import shipped_table
    from stepgrpo.training.recipe import ALIASES, UNSUPPORTED, run_fields

    aliases: dict[str, list[str]] = {}
    for alias, name in ALIASES.items():
        aliases.setdefault(name, []).append(alias)

    def line(name: str, default: str, text: str, choices: list[str] | None = None) -> str:
        also = f" (also --{', --'.join(aliases[name])})" if name in aliases else ""
        allowed = f" Allowed: {', '.join(choices)}." if choices else ""
        return escape(f"  --{name}{also} [default: {default}] {text}{allowed}".rstrip())

    run_lines = [line(name, "required" if info.is_required() else str(info.default).replace("None", "null"),
                      info.description or "") for name, info in run_fields().items()]
    run_lines.append(escape(f"  Accepted at TRL's default only (not implemented): {', '.join(UNSUPPORTED)}."))
    sections = ["[b]Run settings[/b] (model, data, LoRA, images; TRL ModelConfig / ScriptArguments names):\n"
                + "\n".join(run_lines)]
    trainer = "GRPOConfig" if kind == "train" else "SFTConfig"
    titles = {"stepgrpo": "stepgrpo settings", "trl": f"TRL {trainer} settings",
              "transformers": "transformers TrainingArguments settings"}
    table = shipped_table(kind)
    for origin, title in titles.items():
        sections.append(f"[b]{title}[/b]:\n" + "\n".join(line(name, entry["default"], entry["help"], entry["choices"])
                                                          for name, entry in table.items()
                                                          if entry["origin"] == origin))
    return "\n\n".join(sections)


def check_recipe(args: list[str], preset: str | None, kind: str) -> tuple[bool | str, Path | None, list[str]]:
    """Split the extra arguments and check the recipe before TRL is imported; exit with every problem."""
    from stepgrpo.training.recipe import ConfigError, check_command_line

    try:
        resume, rest = split_resume_argument(args)
        config, overrides = split_config_argument(rest)
        check_command_line(config, overrides, preset, kind)
    except ConfigError as error:
        fail(str(error))
    return resume, config, overrides


def end_processes() -> None:
    """Destroy the process group (if `accelerate launch` made one) before the interpreter exits:
    left to atexit, gloo's threads can abort a rank with SIGABRT after a successful run."""
    from accelerate import PartialState

    PartialState().destroy_process_group()


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command("train", context_settings=EXTRA_ARGS, epilog=fields_help("train"))
def train_command(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option(help="Start from a preset (settings shipped with stepgrpo): "
                                                     f"{', '.join(shipped_presets())}.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start over in an output_dir holding checkpoints of an earlier "
                                                 "run (deletes them).")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(help="Drop rows that cannot be used or whose images cannot be "
                                                     "read (named and counted) instead of stopping.")] = False,
) -> None:
    """Train with StepGRPO: `stepgrpo train [--config recipe.yaml] [--resume [PATH]] [--key value ...]`.

    Settings come from the preset, then the recipe (YAML; `stepgrpo train CONFIG.yaml` works too),
    then --key value pairs: any setting listed below, by our or TRL's name, e.g.
    `stepgrpo train --preset tiny --model_name_or_path runs/tiny --dataset_name rows.jsonl`.
    All problems with the settings are reported at once; every row and image is checked before the
    model loads.

    --resume: continue from the newest complete checkpoint-N in output_dir (ones left incomplete
    by a crash during a save are skipped and named); --resume PATH: from that checkpoint."""
    resume, config, overrides = check_recipe(ctx.args, preset, "train")
    from stepgrpo.data.io import DataFileError
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.training.config import ConfigError, load_train_config
    from stepgrpo.training.lengths import PromptTooLongError

    try:
        run, args = load_train_config(config, overrides, preset)
    except ConfigError as error:
        fail(str(error))
    from stepgrpo.training.checkpoints import refuse_old_final
    from stepgrpo.training.run import train

    try:
        refuse_old_final(args.output_dir, resume, overwrite)
        final = train(run, args, resume=resume, overwrite=overwrite, skip_bad_rows=skip_bad_rows)
    except (ConfigError, DataFileError, TrainingDataError, PromptTooLongError, FileNotFoundError) as error:
        fail(str(error))
    end_processes()
    typer.echo(f"saved the trained model to {final}")

"""The one Typer application every `stepgrpo` sub-command registers on."""

import typer

app = typer.Typer(
    name="stepgrpo",
    help="Step-wise rewards, key-step extraction and step-wise GRPO training on TRL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

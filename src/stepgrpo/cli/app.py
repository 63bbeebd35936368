"""The one Typer application every `stepgrpo` sub-command registers on."""

import typer
from rich.console import Console

app = typer.Typer(
    name="stepgrpo",
    help="Step-wise rewards, key-step extraction and step-wise GRPO training on TRL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Shared consoles. soft_wrap: long paths in messages ("file:line: field ...") are never broken.
console = Console(soft_wrap=True)
error_console = Console(stderr=True, soft_wrap=True)

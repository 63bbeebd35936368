"""The one Typer application every `stepgrpo` sub-command registers on, and its one error path.

Any exception a command lets escape ends as one `error: ...` line on stderr and a non-zero exit
status (2 for problems with the user's input, files or settings; 1 for anything unexpected),
never a traceback, unless `stepgrpo --debug ...` or `STEPGRPO_DEBUG=1` asks for one.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

DEBUG_ENV = "STEPGRPO_DEBUG"

# Shared consoles. soft_wrap: long paths in messages ("file:line: field ...") are never broken.
console = Console(soft_wrap=True)
error_console = Console(stderr=True, soft_wrap=True)

_debug = False


def debug_requested() -> bool:
    return _debug or os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no"}


def _is_cli_exit(error: BaseException) -> bool:
    """Exits the CLI framework handles itself: `typer.Exit`, an abort, a help page shown for no arguments."""
    return isinstance(error, typer.Exit | typer.Abort) or type(error).__name__ == "NoArgsIsHelpError"


def _usage_message(error: BaseException) -> tuple[str, int] | None:
    """One line for a usage error (unknown option, bad value, typo in a command name), or None."""
    if not (hasattr(error, "format_message") and hasattr(error, "exit_code")):
        return None
    message = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    if context is not None:
        message += f" (see `{context.command_path} --help`)"
    return message, error.exit_code


# Top-level modules of the `[train]` extra: the base install (rewards, score, keysteps) has none of them.
TRAIN_MODULES = frozenset({"torch", "transformers", "trl", "accelerate", "datasets", "peft", "tokenizers",
                           "matplotlib", "tensorboard", "bm25s", "numpy", "pandas", "pyarrow", "safetensors"})


def describe_error(error: BaseException) -> tuple[str, int]:
    """The one-line message for an error that escaped a command, and the exit status."""
    missing = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
    if missing and missing.split(".")[0] in TRAIN_MODULES:
        return (f"this command needs the training dependencies ({missing} is not installed): "
                "pip install 'stepgrpo[train]'"), 2
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}", 2
    text = str(error).strip()
    if type(error).__module__.startswith("stepgrpo"):  # our messages name file, line and field already
        return text or type(error).__name__, 2
    first = text.splitlines()[0] if text else ""
    kind = type(error).__name__
    message = f"{kind}: {first}" if first else kind
    if isinstance(error, ValueError | OSError):
        return message, 2
    return f"unexpected {message} (rerun with `stepgrpo --debug ...` or {DEBUG_ENV}=1 for the traceback)", 1


class StepGroup(TyperGroup):
    """Runs a sub-command and turns any escaping exception into one error line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            if _is_cli_exit(error) or debug_requested():
                raise
            message, code = _usage_message(error) or describe_error(error)
            error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(
    name="stepgrpo",
    cls=StepGroup,
    help="Step-wise rewards, key-step extraction and step-wise GRPO training on TRL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help=f"Show tracebacks (also: {DEBUG_ENV}=1).")] = False,
) -> None:
    global _debug
    _debug = debug

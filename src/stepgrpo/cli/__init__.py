"""Command line entry point.

Each sub-command lives in its own module and registers itself on `app`; heavy imports (torch,
TRL) happen inside the command functions so that `stepgrpo --help` and `stepgrpo score` start fast.
"""

from stepgrpo.cli import (
    demo,  # noqa: F401
    eval,  # noqa: F401
    keysteps,  # noqa: F401
    make_data,  # noqa: F401
    make_model,  # noqa: F401
    router,  # noqa: F401
    score,  # noqa: F401  (registers the command)
    sft,  # noqa: F401
    tiny,  # noqa: F401
    train,  # noqa: F401
)
from stepgrpo.cli.app import app


def main() -> None:
    app()

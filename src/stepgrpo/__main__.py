"""`python -m stepgrpo` = the `stepgrpo` command (lets `accelerate launch -m stepgrpo train ...` work)."""

from stepgrpo.cli import main

main()

"""``kjoretoyregister svv …``: generate a synthetic register and serve the simulator."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="SVV (Autosys) simulator: generate a register and serve SVV's API.", no_args_is_help=True
)

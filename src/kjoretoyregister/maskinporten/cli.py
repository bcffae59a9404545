"""``kjoretoyregister maskinporten …``: the token service stand-in and its admin commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Maskinporten stand-in: token service and client registry.", no_args_is_help=True
)

"""Helpers shared by the part CLIs: settings loading with a clear exit on bad config."""

from __future__ import annotations

from typing import Any

import typer

from kjoretoyregister.config import ConfigError, Settings, load_settings
from kjoretoyregister.logs import configure_logging


def settings_or_exit(**overrides: Any) -> Settings:
    """Load settings; on a bad value print which setting is wrong and exit with status 2."""
    clean = {k: v for k, v in overrides.items() if v is not None and v != {}}
    try:
        settings = load_settings(**clean)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings

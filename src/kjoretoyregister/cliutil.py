"""Helpers shared by the part CLIs: settings with a clear exit on bad config, and serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from aiohttp import web

from kjoretoyregister import httpserver
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


def serve_or_exit(
    app: web.Application,
    settings: Settings,
    *,
    host: str,
    port: int,
    reuse_port: bool = False,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve ``app`` until interrupted; a port that cannot be bound is one line and exit 1."""
    try:
        httpserver.run(
            app,
            host=host,
            port=port,
            edge=httpserver.EdgeLimits.from_settings(settings.http),
            reuse_port=reuse_port,
            ready=ready,
        )
    except httpserver.BindError as exc:
        typer.echo(f"error: {exc} (is it already running? choose another with --port)", err=True)
        raise typer.Exit(1) from None

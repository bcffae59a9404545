"""Helpers shared by the part CLIs: settings with a clear exit on bad config, a database that
cannot be opened or migrated as one line, and serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from kjoretoyregister import httpserver
from kjoretoyregister.config import ConfigError, Settings, load_settings
from kjoretoyregister.logs import configure_logging


def settings_or_exit(**overrides: Any) -> Settings:
    """Load settings; on a bad value print which setting is wrong and exit with status 2."""
    clean = {k: v for k, v in overrides.items() if v is not None and v != {}}
    try:
        settings = load_settings(**clean)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
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


def safe_url(url: str) -> str:
    """The database URL as it may be printed: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def database_reason(exc: BaseException) -> str:
    """Why a database could not be opened, in one line without Python internals.

    The driver's own first line («connection refused», «unable to open database file»,
    «password authentication failed …») says it best; SQLAlchemy's wrapper adds only noise.
    """
    orig = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = " ".join(str(orig).split("\n")[0].split())
    return text[:200] or orig.__class__.__name__


def migrate_or_exit(url: str) -> str:
    """Migrate ``url`` to the packaged head; if it cannot be opened, print one line, exit 1."""
    import logging

    from alembic.util.exc import CommandError

    from kjoretoyregister.store.db import upgrade

    # Alembic reports each step at INFO; a command should print only its own answer.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        upgrade(url)
    except CommandError as exc:
        # e.g. the database is at a revision this (older) package does not know
        typer.echo(f"error: cannot migrate {safe_url(url)}: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(
            f"error: cannot open database {safe_url(url)}: {database_reason(exc)}"
            " (is it running? check KJR_DATABASE_URL)",
            err=True,
        )
        raise typer.Exit(1) from None
    return url

"""``kjoretoyregister gateway serve``: run the gateway (optionally as SO_REUSEPORT workers)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

import typer
from aiohttp import web

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.sinks import NullAuditSink
from kjoretoyregister.cliutil import settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.gateway.app import create_app
from kjoretoyregister.konfig.authz import Authorizer
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import make_engine, make_session_factory

app = typer.Typer(help="The Fiks Kjøretøyregister gateway (the API municipalities call).")
log = get_logger(__name__)


def audit_sink_for(settings: Settings) -> AuditSink:
    """The audit sink ``serve`` uses. A no-op until the audit issue adds the durable sink."""
    return NullAuditSink()


def app_from_settings(settings: Settings) -> web.Application:
    """Build the gateway with a Konfigurasjon authorizer on ``settings.effective_database_url``."""
    engine = make_engine(settings.effective_database_url)
    authorizer = Authorizer(make_session_factory(engine))
    return create_app(settings.gateway, authorizer=authorizer, audit_sink=audit_sink_for(settings))


def _run_one(overrides: dict[str, Any], reuse_port: bool) -> None:
    settings = settings_or_exit(**overrides)
    g = settings.gateway
    web.run_app(
        app_from_settings(settings),
        host=g.host,
        port=g.port,
        reuse_port=reuse_port,
        access_log=None,  # access lines would carry plates and VINs; we log route templates
        print=None,
    )


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Listen address [KJR_GATEWAY__HOST]"),
    port: int | None = typer.Option(None, help="Listen port [KJR_GATEWAY__PORT]"),
    svv_url: str | None = typer.Option(None, help="SVV base URL up to /felles/v2"),
    svv_user: str | None = typer.Option(None, help="The gateway's SVV Basic user"),
    maskinporten_issuer: str | None = typer.Option(None, help="Trusted Maskinporten issuer"),
    database_url: str | None = typer.Option(None, help="Konfigurasjon database URL"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes sharing the port"),
) -> None:
    """Serve the gateway. The SVV password comes from KJR_GATEWAY__SVV_PASSWORD (not a flag)."""
    gateway = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "svv_url": svv_url,
            "svv_user": svv_user,
            "maskinporten_issuer": maskinporten_issuer,
        }.items()
        if v is not None
    }
    overrides: dict[str, Any] = {"gateway": gateway, "database_url": database_url}
    settings = settings_or_exit(**overrides)
    g = settings.gateway
    typer.echo(f"gateway on http://{g.host}:{g.port}/kjoretoyregister/api ({workers} worker(s))")
    if workers == 1:
        _run_one(overrides, reuse_port=False)
        return
    if g.port == 0:
        typer.echo("--workers > 1 needs a fixed --port", err=True)
        raise typer.Exit(2)
    # fork before any event loop exists; each child binds the port with SO_REUSEPORT and the
    # kernel spreads connections across them.
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_run_one, args=(overrides, True)) for _ in range(workers)]
    for p in procs:
        p.start()

    def _forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    for p in procs:
        p.join()

"""``kjoretoyregister gateway serve``: run the gateway (optionally as SO_REUSEPORT workers)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from enum import StrEnum
from typing import Annotated, Any

import typer
from aiohttp import web

from kjoretoyregister.audit.admin_api import AUDIT_ADMIN_PREFIX, admin_audit_app_from_settings
from kjoretoyregister.audit.anchors import AnchorError
from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.sinks import NullAuditSink
from kjoretoyregister.cliutil import migrate_or_exit, serve_or_exit, settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.gateway.app import create_app
from kjoretoyregister.gateway.health import Check, audit_check, database_check
from kjoretoyregister.konfig.authz import Authorizer
from kjoretoyregister.konfig.invalidation import KonfigGeneration
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import make_engine, make_session_factory

app = typer.Typer(help="The Fiks Kjøretøyregister gateway (the API municipalities call).")
log = get_logger(__name__)


class AuditMode(StrEnum):
    """Which audit sink ``serve`` uses."""

    #: The durable, hash-chained audit log on the database (fail closed). The default.
    DURABLE = "durable"
    #: No audit at all: only for measuring the bare gateway. Never in production.
    NONE = "none"


def app_from_settings(settings: Settings, audit: AuditMode = AuditMode.DURABLE) -> web.Application:
    """Build the gateway with a Konfigurasjon authorizer and an audit sink on the database."""
    engine = make_engine(settings.effective_database_url)
    authorizer = Authorizer.from_settings(make_session_factory(engine), settings.konfig)
    # Readiness: the Konfigurasjon database answers; the audit writer (below) can commit.
    readiness: dict[str, Check] = {"database": database_check(engine)}
    sink: AuditSink
    if audit is AuditMode.DURABLE:
        from kjoretoyregister.audit.writer import DurableAuditSink

        durable = DurableAuditSink.from_settings(settings, migrate=False)
        sink = durable
        readiness["audit"] = audit_check(durable)

        async def _start(_: web.Application) -> None:
            await durable.start()

        async def _stop(_: web.Application) -> None:
            await durable.close()

        on_startup, on_cleanup = [_start], [_stop]
    else:
        log.warning("audit_disabled", hint="--audit none is for benchmarks only")
        sink, on_startup, on_cleanup = NullAuditSink(), [], []
    # The org administrators' audit view (bearer tokens; see audit.admin_api).
    mounts = {AUDIT_ADMIN_PREFIX: admin_audit_app_from_settings(settings)}
    application = create_app(
        settings.gateway,
        authorizer=authorizer,
        audit_sink=sink,
        decision_cache_s=settings.gateway.authz_cache_s,
        mounts=mounts,
        readiness=readiness,
        konfig_generation=KonfigGeneration(
            engine, poll_s=settings.gateway.authz_invalidation_poll_s
        ),
    )
    application.on_startup.extend(on_startup)
    application.on_cleanup.extend(on_cleanup)
    return application


def _run_one(overrides: dict[str, Any], reuse_port: bool, audit: AuditMode) -> None:
    settings = settings_or_exit(**overrides)
    g = settings.gateway
    try:
        application = app_from_settings(settings, audit)
    except AnchorError as exc:  # a configured anchor key that cannot be read
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    serve_or_exit(
        application,
        settings,
        host=g.host,
        port=g.port,
        reuse_port=reuse_port,
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
    audit: Annotated[
        AuditMode, typer.Option(help="durable (default) or none (benchmarks only)")
    ] = AuditMode.DURABLE,
    authz_cache_s: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=60,
            help="Remember OK authorization decisions this long (default 10, 0 = off; "
            "KJR_GATEWAY__AUTHZ_CACHE_S). Konfigurasjon changes still drop them: at once in "
            "this process, within KJR_GATEWAY__AUTHZ_INVALIDATION_POLL_S (1 s) elsewhere",
        ),
    ] = None,
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
            "authz_cache_s": authz_cache_s,
        }.items()
        if v is not None
    }
    overrides: dict[str, Any] = {"gateway": gateway, "database_url": database_url}
    settings = settings_or_exit(**overrides)
    # Migrate once here (Konfigurasjon and audit tables), not racing in each worker.
    migrate_or_exit(settings.effective_database_url)
    g = settings.gateway
    typer.echo(f"gateway on http://{g.host}:{g.port}/kjoretoyregister/api ({workers} worker(s))")
    if workers == 1:
        _run_one(overrides, False, audit)
        return
    if g.port == 0:
        typer.echo("error: --workers > 1 needs a fixed --port (not 0)", err=True)
        raise typer.Exit(2)
    # fork before any event loop exists; each child binds the port with SO_REUSEPORT and the
    # kernel spreads connections across them.
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_run_one, args=(overrides, True, audit)) for _ in range(workers)]
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

"""``kjoretoyregister svv serve``: run the simulator's HTTP API on a register file.

Flags win over ``KJR_SVV__*`` settings. ``--user`` replaces the configured users when given.
``--api`` chooses the API generation: ``v2`` (default), ``akfell`` or ``both``. When v2 is
served and no user is configured the command refuses to start: an open simulator would teach
clients to skip authentication, and a generated password would end up in terminal scroll-back
and logs. The akfell routes take Maskinporten tokens instead (``--akfell-issuer``); Basic users
are then needed only for the ``/_sim`` switches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from kjoretoyregister.cliutil import settings_or_exit
from kjoretoyregister.httpserver import BindError, EdgeLimits
from kjoretoyregister.svv.auth import Users, UserSpecError
from kjoretoyregister.svv.register import RegisterError
from kjoretoyregister.svv.server import base_paths, run

Api = Literal["v2", "akfell", "both"]


def serve(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Register file made by `svv generate` (KJR_SVV__DATA)."),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port (default 8081).")] = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="Basic-auth user NAME:PASSWORD[:ROLE,ROLE] (repeatable). Roles: KJORETOYOPPSLAG "
            "(bulk), KJORETOYSOK (sok), SIMULATOR (/_sim switches); none listed = all.",
        ),
    ] = None,
    max_bulk_items: Annotated[
        int | None,
        typer.Option("--max-bulk-items", help="Most items in one bulk request (400 above)."),
    ] = None,
    max_antall: Annotated[
        int | None, typer.Option("--max-antall", help="Largest sok page (antall).")
    ] = None,
    lookup_threads: Annotated[
        int | None,
        typer.Option(
            "--lookup-threads", help="Threads for register lookups (0 = on the event loop)."
        ),
    ] = None,
    lookup_processes: Annotated[
        int | None,
        typer.Option(
            "--lookup-processes",
            help="Processes that share big bulk lookups (default: one per core for a register "
            "of 500,000 vehicles or more, else 0).",
        ),
    ] = None,
    latency_ms: Annotated[
        float | None,
        typer.Option("--latency-ms", help="Added latency per request, in milliseconds."),
    ] = None,
    fault_rate: Annotated[
        float | None, typer.Option("--fault-rate", help="Share of requests answered 500 (0-1).")
    ] = None,
    outage: Annotated[
        bool | None,
        typer.Option("--outage/--no-outage", help="Start in outage mode (503 for everything)."),
    ] = None,
    api: Annotated[
        Api | None,
        typer.Option(
            "--api",
            help="API generation: v2 (default; /ws/no/vegvesen/kjoretoy/felles/v2), akfell "
            "(SVV's current akfell-datautlevering: /kjoretoyoppslag, /enkeltoppslag; Maskinporten "
            "tokens) or both.",
        ),
    ] = None,
    akfell_issuer: Annotated[
        str | None,
        typer.Option(
            "--akfell-issuer", help="akfell: trusted Maskinporten issuer (default :8082 stand-in)."
        ),
    ] = None,
    akfell_jwks_url: Annotated[
        str | None,
        typer.Option("--akfell-jwks-url", help="akfell: JWKS URL (default: from the issuer)."),
    ] = None,
    akfell_daily_quota: Annotated[
        int | None,
        typer.Option("--akfell-daily-quota", help="akfell: vehicles per client per day (5000)."),
    ] = None,
    akfell_api_key: Annotated[
        list[str] | None,
        typer.Option("--akfell-api-key", help="akfell: an enkeltoppslag API key (repeatable)."),
    ] = None,
    quota_exceeded: Annotated[
        bool | None,
        typer.Option(
            "--quota-exceeded/--no-quota-exceeded", help="Answer bulk requests 422 + Retry-After."
        ),
    ] = None,
) -> None:
    """Serve SVV's bulk (Kjøretøyoppslag) and search (Kjøretøysøk) API from a register file;
    with --api akfell|both also (or instead) SVV's current akfell-datautlevering API.

    The switches can be changed while it runs by a user with the SIMULATOR role:
    GET/POST /_sim/faults (JSON {"outage", "latency_ms", "fault_rate", "quota_exceeded"}),
    POST /_sim/outage?on=1|0 and POST /_sim/quota?on=1|0.
    """
    flags: dict[str, Any] = {
        "data": data,
        "host": host,
        "port": port,
        "users": user or None,
        "max_bulk_items": max_bulk_items,
        "max_antall": max_antall,
        "lookup_threads": lookup_threads,
        "lookup_processes": lookup_processes,
        "latency_ms": latency_ms,
        "fault_rate": fault_rate,
        "outage": outage,
        "quota_exceeded": quota_exceeded,
        "api": api,
        "akfell_issuer": akfell_issuer,
        "akfell_jwks_url": akfell_jwks_url,
        "akfell_daily_quota": akfell_daily_quota,
        "akfell_api_keys": akfell_api_key or None,
    }
    settings = settings_or_exit(svv={k: v for k, v in flags.items() if v is not None})
    svv = settings.svv
    if not svv.users and svv.api != "akfell":
        typer.echo(
            "error: no users configured: give --user NAME:PASSWORD (repeatable) or set "
            "KJR_SVV__USERS='[\"NAME:PASSWORD\"]'. Refusing to start an open simulator.",
            err=True,
        )
        raise typer.Exit(2)
    try:
        users = Users.from_specs(u.get_secret_value() for u in svv.users)
    except UserSpecError as exc:
        typer.echo(f"error: bad --user / KJR_SVV__USERS entry: {exc}", err=True)
        raise typer.Exit(2) from None
    if svv.data is None:
        typer.echo(
            "error: no register file: give --data FILE (make one with `svv generate`)", err=True
        )
        raise typer.Exit(2)
    typer.echo(
        f"Users: {', '.join(users.names) or '(none: /_sim is closed)'}; "
        f"API {svv.api} at {', '.join(base_paths(svv.api))}",
        err=True,
    )
    if svv.api != "v2":
        typer.echo(
            f"akfell: Maskinporten tokens from {svv.akfell_issuer} with scope "
            f"{svv.akfell_scope}; daily quota {svv.akfell_daily_quota} vehicles per client",
            err=True,
        )
    try:
        run(
            svv,
            print_fn=lambda line: typer.echo(line, err=True),
            edge=EdgeLimits.from_settings(settings.http),
        )
    except RegisterError as exc:
        typer.echo(f"error: cannot open register {svv.data}: {exc}", err=True)
        raise typer.Exit(2) from None
    except BindError as exc:
        typer.echo(f"error: {exc} (is it already running? choose another with --port)", err=True)
        raise typer.Exit(1) from None

"""``kjoretoyregister portal …``: person roles for the portal from the command line.

``portal person-role add|remove|list`` manage who may use the portal for which organisation
(roles OPPSLAG, EIERSOK, ADMIN). Persons are given by fødselsnummer and stored only as the
audit pseudonym (so the command needs the same audit secret as the portal: ``KJR_AUDIT_SECRET``
or ``<data_dir>/audit.key``). The store is ``KJR_DATABASE_URL`` (migrated up first). Each
command is one transaction; errors exit 1 with a message on stderr.
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from aiohttp import web
from rich.console import Console
from rich.table import Table

from kjoretoyregister.audit.pseudonyms import pseudonymizer_from_settings
from kjoretoyregister.cliutil import migrate_or_exit, serve_or_exit, settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.konfig.errors import KonfigError
from kjoretoyregister.maskinporten.idporten import is_synthetic_fnr
from kjoretoyregister.portal import roles
from kjoretoyregister.portal.models import ROLES
from kjoretoyregister.store.db import make_engine, make_session_factory

app = typer.Typer(
    help="The web portal: serve it, and manage person roles per organisation.",
    no_args_is_help=True,
)
role_app = typer.Typer(
    help="Person roles (OPPSLAG, EIERSOK, ADMIN) per Fiks organisation.", no_args_is_help=True
)
app.add_typer(role_app, name="person-role")

ACTOR = "cli"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _role(value: str) -> str:
    role = value.strip().upper()
    if role not in ROLES:
        raise _fail(f"unknown role {value!r}; known: {', '.join(ROLES)}")
    return role


@role_app.command("add")
def add(
    fiks_org_id: Annotated[str, typer.Argument(help="The organisation's fiksOrgId.")],
    fodselsnummer: Annotated[str, typer.Argument(help="The person's (synthetic) fødselsnummer.")],
    rolle: Annotated[str, typer.Argument(help="OPPSLAG, EIERSOK or ADMIN.")],
    navn: Annotated[str, typer.Option("--navn", help="Display name.")],
) -> None:
    """Give a person a role on an organisation."""
    role = _role(rolle)
    if not is_synthetic_fnr(fodselsnummer):
        raise _fail("fodselsnummer must be a synthetic one (month + 80, valid check digits)")
    settings = settings_or_exit()
    url = migrate_or_exit(settings.effective_database_url)
    engine = make_engine(url)
    try:
        key = roles.person_key(pseudonymizer_from_settings(settings), fodselsnummer)
        with make_session_factory(engine).begin() as s:
            roles.add_role(
                s, pid_pseudonym=key, navn=navn, fiks_org_id=fiks_org_id, rolle=role, actor=ACTOR
            )
    except KonfigError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()
    typer.echo(f"{navn}: {role} on {fiks_org_id}")


@role_app.command("remove")
def remove(
    fiks_org_id: Annotated[str, typer.Argument(help="The organisation's fiksOrgId.")],
    fodselsnummer: Annotated[str, typer.Argument(help="The person's fødselsnummer.")],
    rolle: Annotated[str, typer.Argument(help="OPPSLAG, EIERSOK or ADMIN.")],
) -> None:
    """Take a role away from a person."""
    role = _role(rolle)
    settings = settings_or_exit()
    url = migrate_or_exit(settings.effective_database_url)
    engine = make_engine(url)
    try:
        key = roles.person_key(pseudonymizer_from_settings(settings), fodselsnummer)
        with make_session_factory(engine).begin() as s:
            roles.remove_role(
                s, pid_pseudonym=key, fiks_org_id=fiks_org_id, rolle=role, actor=ACTOR
            )
    except KonfigError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()
    typer.echo(f"removed {role} on {fiks_org_id}")


@role_app.command("list")
def list_(
    fiks_org_id: Annotated[
        str | None, typer.Option("--org", help="Only this organisation's roles.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List person roles (name, pseudonym prefix, organisation, role)."""
    settings = settings_or_exit()
    url = migrate_or_exit(settings.effective_database_url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as s:
            rows = [
                {
                    "navn": r.navn,
                    "person": r.pid_pseudonym[:16],
                    "fiks_org_id": str(r.fiks_org_id),
                    "rolle": r.rolle,
                }
                for r in roles.list_roles(s, fiks_org_id)
            ]
    except KonfigError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            typer.echo(orjson.dumps(row).decode())
        return
    table = Table("Navn", "Person (pseudonym)", "fiksOrgId", "Rolle")
    for row in rows:
        table.add_row(row["navn"], row["person"], row["fiks_org_id"], row["rolle"])
    Console().print(table)


def app_from_settings(settings: Settings) -> web.Application:
    """The portal under ``/portal`` with the durable audit sink, from the settings alone.

    The portal forwards to SVV with the gateway's settings (``KJR_GATEWAY__SVV_URL``,
    ``…__SVV_USER``, ``…__SVV_PASSWORD``) and shares the gateway's database and audit secret.
    """
    from kjoretoyregister.audit.writer import DurableAuditSink
    from kjoretoyregister.portal.app import PORTAL_PREFIX, create_portal_app, favicon

    url = migrate_or_exit(settings.effective_database_url)
    engine = make_engine(url)
    sink = DurableAuditSink.from_settings(settings, migrate=False)
    portal = create_portal_app(
        settings.portal,
        engine=engine,
        audit_sink=sink,
        pseudonymizer=pseudonymizer_from_settings(settings),
        gateway=settings.gateway,
    )
    root = web.Application()

    async def _start(_: web.Application) -> None:
        await sink.start()

    async def _stop(_: web.Application) -> None:
        await sink.close()
        engine.dispose()

    async def _to_portal(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": PORTAL_PREFIX + "/"})

    icon = favicon()  # read once, not per request

    async def _favicon(_: web.Request) -> web.Response:
        # Pages link the icon (<link rel="icon">); this is for what browsers fetch on their own.
        return web.Response(
            body=icon,
            content_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    root.on_startup.append(_start)
    root.on_cleanup.append(_stop)
    root.router.add_get("/", _to_portal)
    root.router.add_get("/favicon.ico", _favicon)
    root.add_subapp(PORTAL_PREFIX, portal)
    return root


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [KJR_PORTAL__HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [KJR_PORTAL__PORT]")] = None,
) -> None:
    """Serve the portal (OIDC provider, client and cookies from KJR_PORTAL__*)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(**({"portal": overrides} if overrides else {}))
    serve_or_exit(
        app_from_settings(settings), settings, host=settings.portal.host, port=settings.portal.port
    )

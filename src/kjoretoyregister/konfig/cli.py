"""``kjoretoyregister admin …``: manage Fiks Konfigurasjon from the command line.

The store is the one in settings (``KJR_DATABASE_URL``, default a SQLite file in
``KJR_DATA_DIR``; ``--database-url`` overrides both). Every command first migrates the
database up to the packaged head (cheap when already there), so a fresh machine needs no
separate step; ``admin db upgrade`` does only that. Each command is one transaction: it
either fully happens or, on an error, leaves nothing behind and exits 1 with a message on
stderr. Output is a readable table, or JSON with ``--json``.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kjoretoyregister.cliutil import (
    database_reason,
    migrate_or_exit,
    safe_url,
    serve_or_exit,
    settings_or_exit,
)
from kjoretoyregister.config import Settings
from kjoretoyregister.konfig import privileges, schemas, service
from kjoretoyregister.konfig.errors import InvalidInput, KonfigError, NotFound
from kjoretoyregister.store.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
)

T = TypeVar("T")

app = typer.Typer(
    help="Fiks Konfigurasjon: organisations, service activation, integrations, grants, "
    "the admin-action log and the admin REST API.",
    no_args_is_help=True,
)
org_app = typer.Typer(help="Fiks organisations (fiksOrgId, name, orgnr).", no_args_is_help=True)
service_app = typer.Typer(
    help="Activate or deactivate Kjøretøyregister for an organisation.", no_args_is_help=True
)
integration_app = typer.Typer(
    help="Integrations: create (password shown once), new password, delete, list.",
    no_args_is_help=True,
)
grant_app = typer.Typer(help="Grant or revoke privileges on an organisation.", no_args_is_help=True)
db_app = typer.Typer(help="The Konfigurasjon database and its migrations.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(service_app, name="service")
app.add_typer(integration_app, name="integration")
app.add_typer(grant_app, name="grant")
app.add_typer(db_app, name="db")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


class _State:
    database_url: str | None = None
    actor: str | None = None


_state = _State()


@app.callback()
def _admin(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database URL [KJR_DATABASE_URL]; default SQLite in data dir"
    ),
    actor: str | None = typer.Option(
        None, "--actor", help="Name recorded in the admin-action log (default cli:<os user>)"
    ),
) -> None:
    """Manage organisations, integrations and grants (Fiks Konfigurasjon)."""
    _state.database_url = database_url
    _state.actor = actor


# -- plumbing -------------------------------------------------------------------------------


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    return settings_or_exit(database_url=_state.database_url)


def _actor() -> str:
    if _state.actor:
        return _state.actor
    try:
        return "cli:" + pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"cli:uid{os.getuid()}"


def _exit_code(exc: KonfigError) -> int:
    """The exit codes every command shares: 2 bad input, 3 not found, 1 refused by state."""
    if isinstance(exc, InvalidInput):
        return 2
    if isinstance(exc, NotFound):
        return 3
    return 1


def _migrated_url() -> str:
    return migrate_or_exit(_settings().effective_database_url)


def _run(work: Callable[[Session], T]) -> T:
    """Migrate, then run ``work`` in one transaction; KonfigError → one line and its exit code."""
    url = _migrated_url()
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            return work(session)
    except KonfigError as exc:
        raise _fail(exc.message, _exit_code(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"database error on {safe_url(url)}: {database_reason(exc)}") from None
    finally:
        engine.dispose()


def _print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _console() -> Console:
    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        # Piped output has no width; 80 columns would fold every UUID in two.
        console.width = max(console.width, 200)
    return console


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "–"


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    _console().print(table)


def _privilege(value: str) -> str:
    """Accept the short form (``oppslag``) as well as the full privilege name."""
    upper = value.strip().upper()
    return upper if "." in upper else f"{privileges.OPPSLAG.split('.')[0]}.{upper}"


def _print_orgs(orgs: Sequence[schemas.OrgOut]) -> None:
    _table(
        "Fiks-organisasjoner",
        ["fiksOrgId", "navn", "orgnr", "opprettet"],
        [[o.id, o.navn, o.orgnr, _when(o.created_at)] for o in orgs],
    )


def _print_integrations(title: str, rows: Sequence[schemas.IntegrationOut]) -> None:
    _table(
        title,
        ["integrasjonId", "navn", "autorisert orgnr", "eier", "passord endret", "slettet"],
        [
            [
                i.id,
                i.navn,
                i.autorisert_orgnr,
                i.fiks_org_id,
                _when(i.password_changed_at),
                _when(i.deleted_at),
            ]
            for i in rows
        ],
    )


def _print_grants(title: str, rows: Sequence[schemas.GrantOut]) -> None:
    _table(
        title,
        ["integrasjonId", "fiksOrgId", "privilegium", "formål påkrevd", "feltpolicy", "gitt"],
        [
            [g.integrasjon_id, g.fiks_org_id, g.privilege, "ja" if g.purpose_required else "nei",
             g.feltpolicy or "–", _when(g.created_at)]
            for g in rows
        ],
    )  # fmt: skip


def _print_credentials(creds: schemas.Credentials, what: str) -> None:
    console = _console()
    console.print(f"{what}\n")
    console.print(f"  IntegrasjonId:      {creds.integrasjon_id}")
    console.print(f"  IntegrasjonPassord: {creds.integrasjon_passord}\n")
    console.print("Passordet vises bare denne ene gangen og kan ikke hentes igjen. Lagre det nå.")


def _print_overview(view: schemas.OrgOverviewOut) -> None:
    org = view.org
    act = view.aktivering
    state = "aktivert" if act and act.aktiv else "ikke aktivert"
    console = _console()
    console.print(f"[bold]{org.navn}[/bold]  fiksOrgId {org.id}  orgnr {org.orgnr}")
    console.print(
        f"Kjøretøyregister: {state}"
        + (f" (aktivert {_when(act.activated_at)}, deaktivert {_when(act.deactivated_at)})"
           if act else "")
    )  # fmt: skip
    _print_integrations("Integrasjoner eid av organisasjonen", view.integrasjoner)
    _print_grants("Tilganger på organisasjonen", view.tilganger)


# -- org ------------------------------------------------------------------------------------


@org_app.command("create")
def org_create(
    navn: str = typer.Option(..., "--navn", help="Display name (unique)."),
    orgnr: str = typer.Option(..., "--orgnr", help="Main organisasjonsnummer (mod-11 checked)."),
    org_id: str | None = typer.Option(None, "--id", help="fiksOrgId (UUID); random if absent."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a Fiks organisation."""
    actor = _actor()
    org = _run(
        lambda s: schemas.OrgOut.model_validate(
            service.create_org(s, navn, orgnr, org_id, actor=actor)
        )
    )
    if as_json:
        _print_json(org)
    else:
        _print_orgs([org])


@org_app.command("list")
def org_list(as_json: bool = JSON_OPTION) -> None:
    """List every organisation."""
    orgs = _run(lambda s: [schemas.OrgOut.model_validate(o) for o in service.list_orgs(s)])
    if as_json:
        _print_json(orgs)
    else:
        _print_orgs(orgs)


def _overview(org: str) -> schemas.OrgOverviewOut:
    return _run(lambda s: schemas.OrgOverviewOut.of(service.org_overview(s, org)))


@org_app.command("show")
def org_show(
    org: str = typer.Argument(..., help="fiksOrgId (UUID)."), as_json: bool = JSON_OPTION
) -> None:
    """Everything about one organisation (same as `admin show`)."""
    view = _overview(org)
    _print_json(view) if as_json else _print_overview(view)


@app.command("show")
def show(
    org: str = typer.Argument(..., help="fiksOrgId (UUID)."), as_json: bool = JSON_OPTION
) -> None:
    """Everything about one organisation: activation, integrations, grants."""
    view = _overview(org)
    _print_json(view) if as_json else _print_overview(view)


# -- service --------------------------------------------------------------------------------


def _activation(change: Callable[..., Any], org: str, as_json: bool) -> None:
    actor = _actor()
    row = _run(lambda s: schemas.ActivationOut.model_validate(change(s, org, actor=actor)))
    if as_json:
        _print_json(row)
    else:
        state = "aktivert" if row.aktiv else "deaktivert"
        typer.echo(f"{row.tjeneste} er {state} for {org}")


@service_app.command("activate")
def service_activate(
    org: str = typer.Argument(..., help="fiksOrgId (UUID)."), as_json: bool = JSON_OPTION
) -> None:
    """Activate Kjøretøyregister for an organisation (no change if already active)."""
    _activation(service.activate, org, as_json)


@service_app.command("deactivate")
def service_deactivate(
    org: str = typer.Argument(..., help="fiksOrgId (UUID)."), as_json: bool = JSON_OPTION
) -> None:
    """Deactivate Kjøretøyregister: grants stay, but every call gets 403 until reactivated."""
    _activation(service.deactivate, org, as_json)


# -- integration ----------------------------------------------------------------------------


@integration_app.command("create")
def integration_create(
    org: str = typer.Option(..., "--org", help="Owning organisation (fiksOrgId)."),
    navn: str = typer.Option(..., "--navn", help="Name (unique within the organisation)."),
    autorisert_orgnr: str = typer.Option(
        ..., "--autorisert-orgnr", help="Orgnr the Maskinporten token's consumer must carry."
    ),
    beskrivelse: str = typer.Option("", "--beskrivelse", help="Free-text description."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an integration and print its id and password (shown only this once)."""
    actor = _actor()

    def work(s: Session) -> schemas.Credentials:
        integration, password = service.create_integration(
            s, org, navn, autorisert_orgnr, beskrivelse, actor=actor
        )
        return schemas.Credentials(integrasjon_id=integration.id, integrasjon_passord=password)

    creds = _run(work)
    if as_json:
        _print_json(creds)
    else:
        _print_credentials(creds, f"Integrasjonen «{navn}» er opprettet.")


@integration_app.command("new-password")
def integration_new_password(
    integration: str = typer.Argument(..., help="IntegrasjonId (UUID)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Generate a new password; the old one stops working immediately."""
    actor = _actor()

    def work(s: Session) -> schemas.Credentials:
        row, password = service.new_password(s, integration, actor=actor)
        return schemas.Credentials(integrasjon_id=row.id, integrasjon_passord=password)

    creds = _run(work)
    if as_json:
        _print_json(creds)
    else:
        _print_credentials(creds, "Nytt passord er generert; det gamle virker ikke lenger.")


@integration_app.command("delete")
def integration_delete(
    integration: str = typer.Argument(..., help="IntegrasjonId (UUID)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete an integration: all its calls fail from now on and its grants are removed."""
    actor = _actor()
    row = _run(
        lambda s: schemas.IntegrationOut.model_validate(
            service.delete_integration(s, integration, actor=actor)
        )
    )
    if as_json:
        _print_json(row)
    else:
        typer.echo(f"integrasjon {row.id} ({row.navn}) er slettet")


@integration_app.command("list")
def integration_list(
    org: str | None = typer.Option(None, "--org", help="Only those owned by this fiksOrgId."),
    include_deleted: bool = typer.Option(False, "--include-deleted", help="Show deleted too."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List integrations."""
    rows = _run(
        lambda s: [
            schemas.IntegrationOut.model_validate(i)
            for i in service.list_integrations(s, org, include_deleted=include_deleted)
        ]
    )
    _print_json(rows) if as_json else _print_integrations("Integrasjoner", rows)


@integration_app.command("show")
def integration_show(
    integration: str = typer.Argument(..., help="IntegrasjonId (UUID)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One integration and every grant it holds."""

    def work(s: Session) -> schemas.IntegrationDetail:
        row = service.get_integration(s, integration)
        return schemas.IntegrationDetail(
            integrasjon=schemas.IntegrationOut.model_validate(row),
            tilganger=[
                schemas.GrantOut.model_validate(g)
                for g in service.list_grants(s, integrasjon_id=row.id)
            ],
        )

    detail = _run(work)
    if as_json:
        _print_json(detail)
    else:
        _print_integrations("Integrasjon", [detail.integrasjon])
        _print_grants("Tilganger", detail.tilganger)


# -- grant ----------------------------------------------------------------------------------

_INTEGRATION_OPT = typer.Option(..., "--integration", help="IntegrasjonId (UUID).")
_ORG_OPT = typer.Option(..., "--org", help="fiksOrgId of the organisation granting access.")
_PRIVILEGE_OPT = typer.Option(
    ..., "--privilege", help="KJORETOYREGISTER.OPPSLAG or KJORETOYREGISTER.EIERSOK (or OPPSLAG)."
)


@grant_app.command("add")
def grant_add(
    integration: str = _INTEGRATION_OPT,
    org: str = _ORG_OPT,
    privilege: str = _PRIVILEGE_OPT,
    purpose_required: bool = typer.Option(
        False, "--purpose-required", help="Calls under this grant must state a purpose."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Grant a privilege on an organisation (its service must be activated)."""
    actor = _actor()
    row = _run(
        lambda s: schemas.GrantOut.model_validate(
            service.grant(
                s,
                integration,
                org,
                _privilege(privilege),
                purpose_required=purpose_required,
                actor=actor,
            )
        )
    )
    _print_json(row) if as_json else _print_grants("Tilgang gitt", [row])


@grant_app.command("revoke")
def grant_revoke(
    integration: str = _INTEGRATION_OPT, org: str = _ORG_OPT, privilege: str = _PRIVILEGE_OPT
) -> None:
    """Revoke a privilege; calls needing it get 403 from now on."""
    actor = _actor()
    _run(lambda s: service.revoke(s, integration, org, _privilege(privilege), actor=actor))
    typer.echo(f"{_privilege(privilege)} trukket tilbake for {integration} på {org}")


@grant_app.command("list")
def grant_list(
    org: str | None = typer.Option(None, "--org", help="Only grants on this fiksOrgId."),
    integration: str | None = typer.Option(None, "--integration", help="Only this integration."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List grants."""
    rows = _run(
        lambda s: [
            schemas.GrantOut.model_validate(g)
            for g in service.list_grants(s, fiks_org_id=org, integrasjon_id=integration)
        ]
    )
    _print_json(rows) if as_json else _print_grants("Tilganger", rows)


# -- log ------------------------------------------------------------------------------------


@app.command("log")
def admin_log(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest N entries."),
    target: str | None = typer.Option(None, "--target", help="Only entries about this id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The admin-action log (append-only), newest first."""
    rows = _run(
        lambda s: [
            schemas.AdminLogEntryOut.model_validate(e)
            for e in service.admin_log(s, limit=limit, target_id=target)
        ]
    )
    if as_json:
        _print_json(rows)
        return
    _table(
        "Admin-hendelser",
        ["tid", "aktør", "handling", "mål", "detaljer"],
        [
            [_when(e.time), e.actor, e.action, f"{e.target_type} {e.target_id}",
             orjson.dumps(e.details).decode()]
            for e in rows
        ],
    )  # fmt: skip


# -- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (every admin command does this too)."""
    url = _migrated_url()
    typer.echo(f"{safe_url(url)} is at revision {current_revision(url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the packaged head (without migrating)."""
    url = _settings().effective_database_url
    try:
        current = current_revision(url)
    except SQLAlchemyError as exc:
        raise _fail(f"cannot open database {safe_url(url)}: {database_reason(exc)}") from None
    typer.echo(f"database: {current or '(empty)'}\nhead:     {head_revision()}")


@db_app.command("revision")
def db_revision(
    message: str = typer.Option(..., "-m", "--message", help="What the migration does."),
    autogenerate: bool = typer.Option(
        False, "--autogenerate", help="Diff the models against the (migrated) database."
    ),
) -> None:
    """Developers: write a new migration into store/migrations/versions (then review it)."""
    from alembic import command

    url = _migrated_url()
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)


# -- serve ----------------------------------------------------------------------------------


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Listen address [KJR_KONFIG__HOST]"),
    port: int | None = typer.Option(None, help="Listen port [KJR_KONFIG__PORT]"),
) -> None:
    """Serve the admin REST API at /admin/api (tokens from KJR_KONFIG__ADMIN_TOKENS)."""

    from kjoretoyregister.konfig.admin_api import ADMIN_API_PREFIX, create_app

    konfig = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(database_url=_state.database_url, konfig=konfig)
    if not settings.konfig.admin_tokens:
        raise _fail("no admin tokens: set KJR_KONFIG__ADMIN_TOKENS='[\"NAME:TOKEN\"]'", 2)
    url = _migrated_url()
    factory = make_session_factory(make_engine(url))
    k = settings.konfig
    typer.echo(f"admin API on http://{k.host}:{k.port}{ADMIN_API_PREFIX} (store {safe_url(url)})")
    serve_or_exit(create_app(factory, settings.konfig), settings, host=k.host, port=k.port)


# ``admin grant feltpolicy`` and ``admin feltpolicy`` live in their own module.
from kjoretoyregister.konfig import cli_feltpolicy  # noqa: E402

grant_app.command("feltpolicy")(cli_feltpolicy.grant_feltpolicy)
app.command("feltpolicy")(cli_feltpolicy.list_feltpolicy)

"""The administrator's pages (role ADMIN on the organisation).

Every change goes through Konfigurasjon's service functions (or :mod:`.roles`) inside one
transaction, with the person as the actor of the admin-action log. Every read of the audit
log goes through :mod:`kjoretoyregister.audit.query`, which records the read itself.
Identifiers typed into filters (plates, fnr) travel only in ``POST`` bodies.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.orm import Session

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.errors import KonfigError, NotFound
from kjoretoyregister.konfig.privileges import EIERSOK as EIERSOK_PRIVILEGE
from kjoretoyregister.konfig.privileges import OPPSLAG as OPPSLAG_PRIVILEGE
from kjoretoyregister.maskinporten.idporten import is_synthetic_fnr
from kjoretoyregister.portal import roles as roles_service
from kjoretoyregister.portal.lookup import PERSON_PREFIX, PORTAL_INTEGRATION
from kjoretoyregister.portal.models import ADMIN, ROLES
from kjoretoyregister.portal.views import OSLO
from kjoretoyregister.portal.web import (
    PORTAL_KEY,
    PageContext,
    error_page,
    page_context,
    redirect,
    render,
)

PRIVILEGES = {OPPSLAG_PRIVILEGE: "Oppslag", EIERSOK_PRIVILEGE: "Eiersøk"}
AUDIT_VIEW_LIMIT = 500
CSV_LIMIT = 100_000
INNSYN_KINDS = {
    "fodselsnummer": "Fødselsnummer",
    "organisasjonsnummer": "Organisasjonsnummer",
    "kjennemerke": "Kjennemerke",
}


def _text(form: MultiDictProxy[Any], name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _admin(request: web.Request) -> PageContext | web.Response:
    ctx = await page_context(request)
    if ctx.actor is None:
        return redirect(request, "home")
    if ctx.org is None or ADMIN not in ctx.roles:
        return error_page(request, 403, "Du er ikke administrator for denne organisasjonen.")
    return ctx


def _actor(ctx: PageContext) -> str:
    """The admin-action log's actor: the person's name and the start of their pseudonym."""
    assert ctx.actor is not None
    return f"portal:{ctx.actor.navn} [{ctx.actor.pid_pseudonym[:16]}]"


def _reader(ctx: PageContext) -> str:
    """The audit access log's actor (the person's full pseudonym, as in lookups)."""
    assert ctx.actor is not None
    return PERSON_PREFIX + ctx.actor.pid_pseudonym


# -- overview: activation, integrations, grants ---------------------------------------------


def _overview(s: Session, org_id: str) -> dict[str, Any]:
    ov = service.org_overview(s, org_id)
    grants: dict[str, set[str]] = {}
    for g in ov.tilganger:
        grants.setdefault(str(g.integrasjon_id), set()).add(g.privilegium)
    return {
        "active": bool(ov.aktivering and ov.aktivering.aktiv),
        "integrations": [
            {
                "id": str(i.id),
                "navn": i.navn,
                "beskrivelse": i.beskrivelse,
                "autorisert_orgnr": i.autorisert_orgnr,
                "password_changed_at": i.password_changed_at,
                "grants": sorted(grants.get(str(i.id), set())),
            }
            for i in ov.integrasjoner
        ],
    }


async def overview(request: web.Request, **extra: Any) -> web.Response:
    """The organisation's service status and integrations."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id = ctx.org.fiks_org_id
    data = await portal.db(lambda s: _overview(s, org_id))
    status = extra.pop("status", 200)
    return render(request, "admin.html", ctx, status=status, privileges=PRIVILEGES, **data, **extra)


async def _change(request: web.Request, change: Any, done: str) -> web.Response:
    """Run one Konfigurasjon change for the current org and come back to the overview."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None and ctx.session is not None
    portal = request.app[PORTAL_KEY]
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    form = await request.post()
    try:
        await portal.db(lambda s: change(s, org_id, actor, form))
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    ctx.session.notice = done
    return redirect(request, "admin")


def _owned(s: Session, org_id: str, integrasjon_id: str) -> uuid.UUID:
    """The integration's id if it belongs to this org (an admin manages only their own)."""
    integ = service.get_integration(s, integrasjon_id)
    if str(integ.fiks_org_id) != org_id or integ.deleted_at is not None:
        raise NotFound("Fant ikke integrasjonen")
    return integ.id


async def activate(request: web.Request) -> web.Response:
    """Activate Kjøretøyregister for the organisation."""

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        service.activate(s, org_id, actor=actor)

    return await _change(request, change, "Tjenesten er aktivert.")


async def create_integration(request: web.Request) -> web.Response:
    """Create an integration; its password is shown once, on this response only."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    navn, orgnr = _text(form, "navn", 200), _text(form, "autorisert_orgnr", 20)
    beskrivelse = _text(form, "beskrivelse", 2000)
    wanted = [p for p in PRIVILEGES if form.get(f"priv_{p}") == "on"]
    purpose_required = form.get("krev_formaal") == "on"
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)

    def change(s: Session) -> tuple[str, str, str]:
        integ, password = service.create_integration(
            s, org_id, navn, orgnr.replace(" ", ""), beskrivelse, actor=actor
        )
        for privilege in wanted:
            service.grant(
                s, integ.id, org_id, privilege, purpose_required=purpose_required, actor=actor
            )
        return str(integ.id), integ.navn, password

    try:
        integrasjon_id, name, password = await portal.db(change)
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    return render(
        request,
        "password.html",
        ctx,
        integrasjon_id=integrasjon_id,
        navn=name,
        password=password,
        created=True,
    )


async def new_password(request: web.Request) -> web.Response:
    """Generate a new password (the old one stops working now); shown once."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    integrasjon_id = request.match_info["id"]

    def change(s: Session) -> tuple[str, str]:
        integ, password = service.new_password(s, _owned(s, org_id, integrasjon_id), actor=actor)
        return integ.navn, password

    try:
        name, password = await portal.db(change)
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    return render(
        request,
        "password.html",
        ctx,
        integrasjon_id=integrasjon_id,
        navn=name,
        password=password,
        created=False,
    )


async def delete_integration(request: web.Request) -> web.Response:
    """Delete an integration: every call with it fails from now on."""
    integrasjon_id = request.match_info["id"]

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        service.delete_integration(s, _owned(s, org_id, integrasjon_id), actor=actor)

    return await _change(request, change, "Integrasjonen er slettet.")


async def grant(request: web.Request) -> web.Response:
    """Grant or revoke one privilege for one of the organisation's integrations."""
    integrasjon_id = request.match_info["id"]

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        privilege = str(form.get("privilegium", ""))
        integ = _owned(s, org_id, integrasjon_id)
        if form.get("handling") == "fjern":
            service.revoke(s, integ, org_id, privilege, actor=actor)
        else:
            service.grant(s, integ, org_id, privilege, actor=actor)

    return await _change(request, change, "Tilgangen er endret.")


# -- person roles ---------------------------------------------------------------------------


async def person_roles(request: web.Request, **extra: Any) -> web.Response:
    """Who has which role on this organisation."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id = ctx.org.fiks_org_id

    def read(s: Session) -> list[dict[str, Any]]:
        people: dict[str, dict[str, Any]] = {}
        for row in roles_service.list_roles(s, org_id):
            entry = people.setdefault(
                row.pid_pseudonym, {"key": row.pid_pseudonym, "navn": row.navn, "roles": []}
            )
            entry["roles"].append(row.rolle)
        return sorted(people.values(), key=lambda p: p["navn"])

    people = await portal.db(read)
    status = extra.pop("status", 200)
    return render(request, "roller.html", ctx, status=status, people=people, **extra)


async def person_role_change(request: web.Request) -> web.Response:
    """Add a role (by fødselsnummer and name) or remove one (by the stored key)."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None and ctx.session is not None and ctx.actor is not None
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    rolle = _text(form, "rolle", 16)
    if form.get("handling") == "fjern":
        key = _text(form, "person", 64)
        if key == ctx.actor.pid_pseudonym and rolle == ADMIN:
            return await person_roles(
                request, status=409, error="Du kan ikke fjerne din egen administratorrolle."
            )

        def change(s: Session) -> None:
            roles_service.remove_role(
                s, pid_pseudonym=key, fiks_org_id=org_id, rolle=rolle, actor=actor
            )

        done = "Rollen er fjernet."
    else:
        fnr = _text(form, "fodselsnummer", 20).replace(" ", "")
        navn = _text(form, "navn", 200)
        if not is_synthetic_fnr(fnr):
            return await person_roles(
                request,
                status=400,
                error="Ugyldig fødselsnummer (kun syntetiske testpersoner i dette miljøet).",
            )
        key = roles_service.person_key(portal.pseudonymizer, fnr)

        def change(s: Session) -> None:
            roles_service.add_role(
                s, pid_pseudonym=key, navn=navn, fiks_org_id=org_id, rolle=rolle, actor=actor
            )

        done = "Rollen er lagt til."
    try:
        await portal.db(change)
    except KonfigError as exc:
        return await person_roles(request, status=exc.status, error=exc.message)
    ctx.session.notice = done
    return redirect(request, "admin_roles")


# -- audit log, CSV, usage, innsyn ----------------------------------------------------------


def _day(value: str, *, end: bool) -> datetime | None:
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=OSLO or UTC)
    return (day + timedelta(days=1) if end else day).astimezone(UTC)


def _filters(form: MultiDictProxy[Any], org_id: str) -> tuple[query.Filters, dict[str, str]]:
    values = {k: _text(form, k, 100) for k in ("fra", "til", "identifikator", "integrasjon")}
    integ = values["integrasjon"] or None
    filters = query.Filters(
        fiks_org_id=org_id,
        integrasjon_id=integ,
        since=_day(values["fra"], end=False),
        until=_day(values["til"], end=True),
        identifier=values["identifikator"].replace(" ", "") or None,
        kind="lookup",
    )
    return filters, values


OUTCOME_LABELS = {
    "found": "funnet",
    "not_found": "ikke funnet",
    "hidden": "skjermet",
    "error": "feil",
}


def _items(entry: dict[str, Any]) -> list[dict[str, str]]:
    """Items for display: a search query as «navn: KARI NORDMANN», outcomes in Norwegian."""
    out = []
    for item in entry.get("items") or []:
        identifier = str(item.get("identifier") or "")
        if str(item.get("identifier_type", "")).startswith("sok/"):
            pairs = parse_qsl(identifier)
            identifier = ", ".join(f"{k}: {v}" for k, v in pairs if k not in ("fra", "antall"))
        out.append(
            {
                "identifier": identifier,
                "outcome": OUTCOME_LABELS.get(str(item.get("outcome")), str(item.get("outcome"))),
                "dtg": str(item.get("dtg") or ""),
            }
        )
    return out


def _who(entry: dict[str, Any], integrations: dict[str, str], people: dict[str, str]) -> str:
    if entry.get("integrasjon_id") == PORTAL_INTEGRATION:
        key = str(entry.get("client_id") or "").removeprefix(PERSON_PREFIX)
        return f"{people.get(key, 'Ukjent person')} (portalen)"
    integ = str(entry.get("integrasjon_id") or "")
    return integrations.get(integ, integ or "–")


def _local(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return when.astimezone(OSLO or UTC).strftime("%d.%m.%Y %H:%M:%S")


async def _names(request: web.Request, org_id: str) -> tuple[dict[str, str], dict[str, str]]:
    portal = request.app[PORTAL_KEY]

    def read(s: Session) -> tuple[dict[str, str], dict[str, str]]:
        integrations = {
            str(i.id): i.navn for i in service.list_integrations(s, org_id, include_deleted=True)
        }
        people = {r.pid_pseudonym: r.navn for r in roles_service.list_roles(s, org_id)}
        return integrations, people

    return await portal.db(read)


async def audit_log(request: web.Request) -> web.Response:
    """The audit log of the organisation: a filter form (GET) and its results (POST)."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id = ctx.org.fiks_org_id
    integrations, people = await _names(request, org_id)
    if request.method == "GET":
        today = datetime.now(OSLO or UTC).date()
        values = {
            "fra": (today - timedelta(days=30)).isoformat(),
            "til": today.isoformat(),
            "identifikator": "",
            "integrasjon": "",
        }
        return render(
            request, "logg.html", ctx, form=values, integrations=integrations, entries=None
        )
    form = await request.post()
    try:
        filters, values = _filters(form, org_id)
    except ValueError:
        return render(
            request,
            "logg.html",
            ctx,
            status=400,
            form={},
            integrations=integrations,
            entries=None,
            error="Ugyldig dato (bruk åååå-mm-dd)",
        )
    reader = _reader(ctx)

    def read() -> list[dict[str, Any]]:
        return list(
            query.search(
                portal.engine,
                portal.pseudonymizer,
                filters,
                actor=reader,
                action="portal.search",
                limit=AUDIT_VIEW_LIMIT,
            )
        )

    try:
        entries = await asyncio.to_thread(read)
    except AuditUnavailable:
        return error_page(request, 503, "Loggen er ikke tilgjengelig akkurat nå.")
    rows = [
        {
            "tid": _local(e["time"]),
            "hvem": _who(e, integrations, people),
            "tjeneste": str(e.get("endpoint") or "").rsplit("v2.0/", 1)[-1],
            "items": _items(e),
            "formaal": e.get("purpose") or "",
            "saksreferanse": e.get("case_reference") or "",
            "status": e.get("http_status"),
        }
        for e in reversed(entries)
    ]
    return render(
        request,
        "logg.html",
        ctx,
        form=values,
        integrations=integrations,
        entries=rows,
        truncated=len(entries) >= AUDIT_VIEW_LIMIT,
    )


async def audit_csv(request: web.Request) -> web.StreamResponse:
    """The same filters as the log page, as a CSV download (one row per item)."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    try:
        filters, _ = _filters(form, ctx.org.fiks_org_id)
    except ValueError:
        return error_page(request, 400, "Ugyldig dato (bruk åååå-mm-dd)")
    reader = _reader(ctx)

    def build() -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(query.CSV_FIELDS), extrasaction="ignore")
        writer.writeheader()
        rows = 0
        for entry in query.search(
            portal.engine,
            portal.pseudonymizer,
            filters,
            actor=reader,
            action="portal.export",
            limit=CSV_LIMIT,
        ):
            for row in query.flatten(entry):
                writer.writerow(row)
                rows += 1
        return buf.getvalue()

    try:
        text = await asyncio.to_thread(build)
    except AuditUnavailable:
        return error_page(request, 503, "Loggen er ikke tilgjengelig akkurat nå.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="revisjonslogg-{stamp}.csv"'},
    )


async def usage(request: web.Request) -> web.Response:
    """Lookups per month (requests and items) for the organisation."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    month = request.query.get("maaned") or datetime.now(OSLO or UTC).strftime("%Y-%m")
    try:
        query.month_bounds(month)
    except ValueError:
        return error_page(request, 400, "Ugyldig måned (bruk åååå-mm)")
    org_id, reader = ctx.org.fiks_org_id, _reader(ctx)
    try:
        rows = await asyncio.to_thread(
            query.usage, portal.engine, month, actor=reader, fiks_org_id=org_id
        )
    except AuditUnavailable:
        return error_page(request, 503, "Loggen er ikke tilgjengelig akkurat nå.")
    row = rows[0] if rows else {"requests": 0, "items": 0, "billable": False}
    return render(request, "bruk.html", ctx, month=month, usage=row)


async def innsyn(request: web.Request) -> web.Response:
    """Who in this organisation looked up a person, organisation or plate, when and why."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    if request.method == "GET":
        return render(request, "innsyn.html", ctx, kinds=INNSYN_KINDS, form={}, rows=None)
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    kind, value = _text(form, "type", 32), _text(form, "verdi", 40).replace(" ", "")
    values = {"type": kind, "verdi": value}
    if kind not in INNSYN_KINDS or not value:
        return render(
            request,
            "innsyn.html",
            ctx,
            status=400,
            kinds=INNSYN_KINDS,
            form=values,
            rows=None,
            error="Velg type og fyll ut verdi",
        )
    org_id, reader = ctx.org.fiks_org_id, _reader(ctx)
    integrations, people = await _names(request, org_id)
    try:
        found = await asyncio.to_thread(
            query.innsyn, portal.engine, portal.pseudonymizer, kind, value, actor=reader
        )
    except AuditUnavailable:
        return error_page(request, 503, "Loggen er ikke tilgjengelig akkurat nå.")
    # An organisation's administrator sees their own organisation's lookups only.
    rows = [
        {
            "tid": _local(r["time"]),
            "hvem": _who({**r, "client_id": None}, integrations, people)
            if r.get("integrasjon_id") != PORTAL_INTEGRATION
            else "Ansatt (portalen)",
            "tjeneste": str(r.get("endpoint") or "").rsplit("v2.0/", 1)[-1],
            "formaal": r.get("purpose") or "",
            "saksreferanse": r.get("case_reference") or "",
            "rolle": "spurt etter" if r.get("role") == "requested" else "i svaret",
            "utfall": OUTCOME_LABELS.get(str(r.get("outcome")), str(r.get("outcome") or "")),
        }
        for r in found
        if r.get("fiks_org_id") == org_id
    ]
    return render(
        request,
        "innsyn.html",
        ctx,
        kinds=INNSYN_KINDS,
        form=values,
        rows=rows,
        kind_label=INNSYN_KINDS[kind],
    )


__all__ = [
    "ROLES",
    "activate",
    "audit_csv",
    "audit_log",
    "create_integration",
    "delete_integration",
    "grant",
    "innsyn",
    "new_password",
    "overview",
    "person_role_change",
    "person_roles",
    "usage",
]

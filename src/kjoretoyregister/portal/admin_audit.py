"""The administrator's audit pages: the log with filters, CSV export, usage, innsyn.

Every read goes through :mod:`kjoretoyregister.audit.query`, which records the read itself
before the first row is shown. Identifiers typed into filters (plates, fnr) travel only in
``POST`` bodies, never in URLs.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.orm import Session

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.konfig import service
from kjoretoyregister.portal import roles as roles_service
from kjoretoyregister.portal.admin import _admin, _reader, _text
from kjoretoyregister.portal.lookup import PERSON_PREFIX, PORTAL_INTEGRATION
from kjoretoyregister.portal.views import OSLO
from kjoretoyregister.portal.web import PORTAL_KEY, error_page, render

AUDIT_VIEW_LIMIT = 500
CSV_LIMIT = 100_000
INNSYN_KINDS = {
    "fodselsnummer": "Fødselsnummer",
    "organisasjonsnummer": "Organisasjonsnummer",
    "kjennemerke": "Kjennemerke",
}


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
            "feltpolicy": e.get("feltpolicy") or "",
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

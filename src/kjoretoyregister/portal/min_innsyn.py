"""Min innsyn: a person sees every lookup, by any organisation, that concerned them.

The right of access covers who looked up one's data, when and why (CJEU C-579/21). The
person logs in with the ID-porten-like login; their key is the pseudonym of their
fødselsnummer, the same pseudonym the audit stores for every requested and returned identity,
so the page needs no clear fnr and can show nothing about anyone else: the query is by that
one pseudonym. Reading it is itself recorded in the audit chain (action ``min_innsyn``).

Rows are one per (lookup, item) naming the person: searched for (``sok/fodselsnummer``) or in
the answer (owner, co-owner or lessee of a vehicle looked up or found by a search, at the
time SVV answered for).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.portal import innsyn_pdf
from kjoretoyregister.portal.lookup import PERSON_PREFIX, PORTAL_INTEGRATION
from kjoretoyregister.portal.views import OSLO
from kjoretoyregister.portal.web import PORTAL_KEY, PageContext, error_page, page_context, redirect
from kjoretoyregister.portal.web import render as render_page

#: Rows per page; a person with thousands of lookups pages back with ``?foer=<seq>``.
PAGE_ROWS = 200
#: Most rows in one download (JSON or PDF); the page says when there are more.
DOWNLOAD_ROWS = 20_000

KINDS = {
    "bulk/kjennemerke": "Oppslag på kjennemerke",
    "bulk/kuid": "Oppslag på kuid",
    "bulk/understellsnummer": "Oppslag på understellsnummer",
    "sok/kjennemerke": "Søk på kjennemerke",
    "sok/understellsnummer": "Søk på understellsnummer",
    "sok/fodselsnummer": "Søk på fødselsnummer",
    "sok/organisasjonsnummer": "Søk på organisasjonsnummer",
    "sok/kundeid": "Søk på kunde-id",
    "sok/eiernavn": "Søk på eiers navn",
    "sok/kunde": "Kundesøk",
}
ROLES = {
    "requested": "Du ble søkt etter",
    "returned": "Du var i svaret (eier, medeier eller leasingtaker)",
}
OUTCOMES = {"found": "treff", "not_found": "ingen treff", "error": "feil"}


async def _person(request: web.Request) -> PageContext | web.Response:
    ctx = await page_context(request)
    if ctx.actor is None:
        return redirect(request, "home")
    return ctx


def _local(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return moment.astimezone(OSLO or UTC).strftime("%d.%m.%Y %H:%M")


def present(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Audit rows as the person reads them (bokmål, local time, names not ids)."""
    out = []
    for r in rows:
        endpoint = str(r.get("endpoint") or "").rsplit("v2.0/", 1)[-1]
        integ = str(r.get("integrasjon_id") or "")
        if integ == PORTAL_INTEGRATION:
            via = "Ansatt i portalen"
        else:
            via = f"Integrasjon «{r.get('integrasjon_navn') or 'ukjent'}»"
        out.append(
            {
                "tid": _local(r["time"]),
                "organisasjon": r.get("org_navn") or "Ukjent organisasjon",
                "hvem": via,
                "hva": KINDS.get(endpoint, endpoint or "–"),
                "formaal": r.get("purpose") or "",
                "saksreferanse": r.get("case_reference") or "",
                "hvordan": ROLES.get(str(r.get("role")), ""),
                "utfall": OUTCOMES.get(str(r.get("outcome")), str(r.get("outcome") or "")),
            }
        )
    return out


async def _read(
    request: web.Request, ctx: PageContext, *, before: int | None, limit: int
) -> tuple[list[dict[str, str]], int | None]:
    """(rows for display, ``before`` of the next page or None), the read recorded first."""
    portal = request.app[PORTAL_KEY]
    assert ctx.actor is not None
    pseudonym = ctx.actor.pid_pseudonym
    rows = await asyncio.to_thread(
        query.own_innsyn,
        portal.engine,
        pseudonym,
        actor=PERSON_PREFIX + pseudonym,
        before_seq=before,
        limit=limit + 1,
    )
    next_before = None
    if len(rows) > limit:
        # Cut at a lookup boundary: the next page starts with the whole of the cut lookup.
        last = rows[limit - 1]["seq"]
        rows = [r for r in rows[:limit] if r["seq"] != last] or rows[:limit]
        next_before = last + 1 if rows[-1]["seq"] != last else last
    return present(rows), next_before


async def page(request: web.Request) -> web.Response:
    """The person's innsyn, newest first, a page at a time."""
    ctx = await _person(request)
    if isinstance(ctx, web.Response):
        return ctx
    raw = request.query.get("foer", "")
    if raw and not raw.isdigit():
        return error_page(request, 400, "Ugyldig side (foer må være et heltall)")
    try:
        rows, next_before = await _read(
            request, ctx, before=int(raw) if raw else None, limit=PAGE_ROWS
        )
    except AuditUnavailable:
        return error_page(request, 503, "Innsyn er ikke tilgjengelig akkurat nå.")
    return render_page(
        request, "min_innsyn.html", ctx, rows=rows, next_before=next_before, first=not raw
    )


async def download(request: web.Request) -> web.Response:
    """The whole innsyn (up to :data:`DOWNLOAD_ROWS`) as JSON or PDF."""
    ctx = await _person(request)
    if isinstance(ctx, web.Response):
        return ctx
    fmt = request.match_info["format"]
    try:
        rows, more = await _read(request, ctx, before=None, limit=DOWNLOAD_ROWS)
    except AuditUnavailable:
        return error_page(request, 503, "Innsyn er ikke tilgjengelig akkurat nå.")
    assert ctx.actor is not None
    made = datetime.now(UTC).astimezone(OSLO or UTC)
    stamp = made.strftime("%Y%m%d-%H%M")
    headers = {
        "Content-Disposition": f'attachment; filename="innsyn-{stamp}.{fmt}"',
        "Cache-Control": "no-store",
    }
    if fmt == "json":
        doc = {
            "navn": ctx.actor.navn,
            "laget": made.isoformat(timespec="seconds"),
            "antall": len(rows),
            "ufullstendig": more is not None,
            "oppslag": rows,
        }
        return web.json_response(doc, headers=headers)
    body = innsyn_pdf.render(ctx.actor.navn, made, rows, truncated=more is not None)
    return web.Response(body=body, content_type="application/pdf", headers=headers)

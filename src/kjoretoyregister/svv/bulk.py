"""Kjøretøyoppslag v2.0 bulk routes: ``bulk/kjennemerke``, ``bulk/kuid``,
``bulk/understellsnummer``.

The answer is a JSON array of v2 ``KjoretoyResponse`` objects (svv-api.md §4.1, §11):

- ``bulk/kjennemerke`` and ``bulk/kuid``: exactly one element per requested item, in request
  order, so a client can pair them by index (duplicates are answered twice);
- ``bulk/understellsnummer/{vin}``: one element per vehicle with that VIN (a VIN can be shared),
  or one element with a responskode if there is none.

A vehicle found is ``{"kjoretoy": {…}, "responskoder": []}``; the register has already left out
the parts withheld by ``unntattOffentlighet``. A miss (unknown, or not valid at the ``dtg``) is
``{"responskoder": [{"kode": "KJENNEMERKE_UKJENT", …}]}`` (``KUID_UKJENT``,
``UNDERSTELLSNUMMER_UKJENT``); a wholly withheld vehicle is ``OPPLYSNINGER_UTILGJENGELIG``,
the code sisdinky gives for CU11300/CU11301.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from aiohttp import web

from kjoretoyregister.svv.appstate import PROCESSES, SETTINGS, SWITCHES, json_response, lookup
from kjoretoyregister.svv.bulkrender import (
    UNDERSTELLSNUMMER_UKJENT,
    BulkKind,
    Items,
    kjoretoy_response,
    render_bulk,
)
from kjoretoyregister.svv.errors import BadRequest, UnsupportedMediaType
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.validation import (
    MAX_IDENTIFIER_LENGTH,
    InvalidDtg,
    parse_bulk_body,
    parse_optional_dtg,
)


async def _render(app: web.Application, kind: BulkKind, items: Items) -> bytes:
    """The answer's bytes: split over the lookup processes when there are some and the
    request is big enough to pay for the hand-over, else in this process (see appstate)."""
    processes = app.get(PROCESSES)
    if processes is not None and len(items) >= processes.min_items:
        return await processes.render(kind, items)

    def work(register: Register) -> bytes:
        return render_bulk(register, kind, items)

    return await lookup(app, work, items=len(items))


async def read_json_body(request: web.Request) -> bytes:
    """The raw body of a JSON request (415 for another declared type, 413 when too large)."""
    content_type = request.headers.get("Content-Type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        shown = mime or "(ingen)"
        raise UnsupportedMediaType(f"Content-Type må være application/json, var {shown[:60]}")
    # aiohttp raises HTTPRequestEntityTooLarge beyond client_max_size (= max_body_bytes).
    return await request.read()


async def bulk_kjennemerke(request: web.Request) -> web.Response:
    """POST ``bulk/kjennemerke``: ``[{"kjennemerke": "CU11297", "dtg": "…"}]``."""
    request.app[SWITCHES].check_quota()
    items = parse_bulk_body(
        await read_json_body(request),
        "kjennemerke",
        max_items=request.app[SETTINGS].max_bulk_items,
    )

    return json_response(await _render(request.app, "kjennemerke", items))


async def bulk_kuid(request: web.Request) -> web.Response:
    """POST ``bulk/kuid``: ``[{"kuid": "3378119709", "dtg": "…"}]``."""
    request.app[SWITCHES].check_quota()
    items = parse_bulk_body(
        await read_json_body(request), "kuid", max_items=request.app[SETTINGS].max_bulk_items
    )

    return json_response(await _render(request.app, "kuid", items))


async def bulk_understellsnummer(request: web.Request) -> web.Response:
    """GET ``bulk/understellsnummer/{understellsnummer}[?dtg=…]``: every vehicle with the VIN."""
    request.app[SWITCHES].check_quota()
    vin = request.match_info.get("understellsnummer", "").strip().upper()
    if not vin:
        raise BadRequest("understellsnummer mangler i adressen (…/bulk/understellsnummer/{vin})")
    if len(vin) > MAX_IDENTIFIER_LENGTH:
        raise BadRequest(f"understellsnummer er for langt (maks {MAX_IDENTIFIER_LENGTH} tegn)")
    unknown = sorted(set(request.query) - {"dtg"})
    if unknown:
        raise BadRequest(f"Ukjent parameter: {', '.join(unknown)[:100]} (bare 'dtg' er tillatt)")
    dtg_values = request.query.getall("dtg", [])
    if len(dtg_values) > 1:
        raise BadRequest("dtg er oppgitt flere ganger")
    try:
        dtg: datetime | None = parse_optional_dtg(dtg_values[0] if dtg_values else None)
    except InvalidDtg as exc:
        raise BadRequest(str(exc)) from None

    def work(register: Register) -> bytes:
        found = register.by_understellsnummer(vin, dtg)
        body = [kjoretoy_response(r) for r in found] or [
            {"responskoder": [UNDERSTELLSNUMMER_UKJENT]}
        ]
        return orjson.dumps(body)

    return json_response(await lookup(request.app, work, items=1))

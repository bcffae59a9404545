"""The akfell handlers: bulk wrappers, person, organisasjon and enkeltoppslag (svv-api.md §2.3,
§4.1, §9).

Bulk answers are ``{"gjenstaendeKvote": n, "responser": [{"request": …, "kjoretoydata": …}]}``,
one element per request item in request order. A miss is a per-item ``feilmelding`` inside the
200: ``KJENNEMERKE_UKJENT`` (``KUID_UKJENT``, ``UNDERSTELLSNUMMER_UKJENT``: inferred by analogy),
a wholly withheld vehicle ``OPPLYSNINGER_UTILGJENGELIG`` (SVV's CU11300/CU11301).

Person: ``FodselsnummerResponse``; no person with that fnr and etternavn is the per-answer
``feilmelding`` ``FNR_ETTERNAVN_UKJENT`` (a code akfell clients handle, svv-api.md §4.1), more
vehicles than ``akfell_max_treff`` is a 400. Organisasjon: ``OrganisasjonsnummerResponse``; an
orgnr the register does not know is ``ORGANISASJONSNUMMER_UKJENT`` (inferred), an ``antall``
above ``akfell_max_antall`` a 400. Enkeltoppslag: ``KjoretoydataResponse`` without ``eierskap``;
an unknown vehicle is 200 with ``feilmelding`` and an empty list (inferred; §12.10).

Errors that are not functional answers (malformed bodies or parameters, more bulk items than
``max_bulk_items``, auth) are the simulator's svvguid error body with a message saying what is
valid. akfell's spec gives its 400 "the same body schema" as the 200 but no content (svv-api.md
§5: unknown); a wrapper with an empty ``responser`` would say nothing about what went wrong.

Every delivered vehicle uses one unit of the caller's daily quota (:mod:`.quota`); an answer
that does not fit is 422 + ``Retry-After`` with a plain-text body, and so is every request while
the simulator's ``quota_exceeded`` switch is on. The enkeltoppslag counts calls instead (SVV:
50,000 per key per day).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from kjoretoyregister.svv.akfell import owned
from kjoretoyregister.svv.akfell.convert import to_akfell
from kjoretoyregister.svv.akfell.params import (
    BulkItem,
    bulk_items,
    enkeltoppslag_query,
    organisasjon_query,
    person_query,
)
from kjoretoyregister.svv.akfell.quota import DailyQuota, QuotaExhausted
from kjoretoyregister.svv.appstate import SETTINGS, SWITCHES, json_response, lookup
from kjoretoyregister.svv.bulk import read_json_body
from kjoretoyregister.svv.errors import BadRequest
from kjoretoyregister.svv.faults import seconds_until_oslo_midnight
from kjoretoyregister.svv.register import Register, VehicleResult

Json = dict[str, Any]

QUOTA = web.AppKey("akfell_quota", DailyQuota)
ENKELTOPPSLAG_QUOTA = web.AppKey("akfell_enkeltoppslag_quota", DailyQuota)
CLIENT = web.RequestKey("akfell_client", str)

ENKELTOPPSLAG_CALLS_PER_DAY = 50_000

KJENNEMERKE_UKJENT = "KJENNEMERKE_UKJENT"
KUID_UKJENT = "KUID_UKJENT"
UNDERSTELLSNUMMER_UKJENT = "UNDERSTELLSNUMMER_UKJENT"
OPPLYSNINGER_UTILGJENGELIG = "OPPLYSNINGER_UTILGJENGELIG"
FNR_ETTERNAVN_UKJENT = "FNR_ETTERNAVN_UKJENT"
ORGANISASJONSNUMMER_UKJENT = "ORGANISASJONSNUMMER_UKJENT"

PREFIX = "/kjoretoyoppslag"
ENKELTOPPSLAG = "/enkeltoppslag/kjoretoydata"


def quota_response(text: str) -> web.Response:
    """akfell's 422: ``Retry-After`` (seconds until midnight in Norway), a plain string body."""
    return web.Response(
        status=422,
        text=text,
        content_type="text/plain",
        headers={"Retry-After": str(seconds_until_oslo_midnight())},
    )


_OVER_QUOTA = "Antall kjøretøy i responsen overstiger kvoten; prøv igjen etter midnatt (norsk tid)"


def _switch_on(request: web.Request) -> bool:
    return request.app[SWITCHES].quota_exceeded


def _wrapper(kvote: int, responser: bytes) -> bytes:
    return b'{"gjenstaendeKvote":%d,"responser":%s}' % (kvote, responser)


def _item(request_echo: Json, found: Sequence[VehicleResult], miss: str) -> tuple[Json, int]:
    if not found:
        return {"request": request_echo, "feilmelding": miss}, 0
    if found[0].hidden:
        return {"request": request_echo, "feilmelding": OPPLYSNINGER_UTILGJENGELIG}, 0
    return {"request": request_echo, "kjoretoydata": to_akfell(found[0].kjoretoy)}, 1


async def _answer(
    request: web.Request, work: Callable[[Register], tuple[bytes, int]], items: int
) -> web.Response:
    """Run ``work`` (→ rendered ``responser`` and vehicles delivered), charge the quota."""
    if _switch_on(request):
        return quota_response(_OVER_QUOTA)
    rendered, vehicles = await lookup(request.app, work, items=items)
    try:
        left = request.app[QUOTA].take(request[CLIENT], vehicles)
    except QuotaExhausted:
        return quota_response(_OVER_QUOTA)
    return json_response(_wrapper(left, rendered))


def _bulk_handler(
    key: str, many: Callable[[Register, list[BulkItem]], list[list[VehicleResult]]], miss: str
) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        items = bulk_items(
            await read_json_body(request), key, max_items=request.app[SETTINGS].max_bulk_items
        )

        def work(register: Register) -> tuple[bytes, int]:
            answers = [
                _item(item.echo, found, miss)
                for item, found in zip(items, many(register, items), strict=True)
            ]
            return orjson.dumps([a for a, _ in answers]), sum(n for _, n in answers)

        return await _answer(request, work, len(items))

    return handler


bulk_kjennemerke = _bulk_handler(
    "kjennemerke",
    lambda r, items: r.many_by_kjennemerke([(i.identifier, i.dtg) for i in items]),
    KJENNEMERKE_UKJENT,
)
bulk_kuid = _bulk_handler(
    "kuid", lambda r, items: r.many_by_kuid([(i.identifier, i.dtg) for i in items]), KUID_UKJENT
)


async def bulk_understellsnummer(request: web.Request) -> web.Response:
    """POST ``bulk/understellsnummer``: ``[{"understellsnummer": …}]`` (no dtg); a VIN may name
    several vehicles, so each element has a ``kjoretoydataListe``."""
    items = bulk_items(
        await read_json_body(request),
        "understellsnummer",
        max_items=request.app[SETTINGS].max_bulk_items,
        with_dtg=False,
    )

    def work(register: Register) -> tuple[bytes, int]:
        responser: list[Json] = []
        delivered = 0
        for item in items:
            found = register.by_understellsnummer(item.identifier, None)
            if not found:
                responser.append({"request": item.echo, "feilmelding": UNDERSTELLSNUMMER_UKJENT})
                continue
            liste: list[Json] = []
            for result in found:
                if result.hidden:
                    liste.append({"feilmelding": OPPLYSNINGER_UTILGJENGELIG})
                else:
                    liste.append({"kjoretoydata": to_akfell(result.kjoretoy)})
                    delivered += 1
            responser.append({"request": item.echo, "kjoretoydataListe": liste})
        return orjson.dumps(responser), delivered

    return await _answer(request, work, len(items))


def _liste(results: Sequence[VehicleResult]) -> list[Json]:
    return [{"kjoretoydata": to_akfell(r.kjoretoy)} for r in results if not r.hidden]


async def _single_answer(request: web.Request, body: Json, vehicles: int) -> web.Response:
    if _switch_on(request):
        return quota_response(_OVER_QUOTA)
    try:
        left = request.app[QUOTA].take(request[CLIENT], vehicles)
    except QuotaExhausted:
        return quota_response(_OVER_QUOTA)
    return json_response({"gjenstaendeKvote": left, **body})


async def person(request: web.Request) -> web.Response:
    """GET ``kjoretoyoppslag/person?fodselsnummer=&etternavn=&dtg=``."""
    query = person_query(request.query)
    limit = request.app[SETTINGS].akfell_max_treff

    def work(register: Register) -> list[VehicleResult] | None:
        try:
            return owned.person_vehicles(
                register, query.fodselsnummer, query.etternavn, query.dtg, limit=limit
            )
        except owned.TooManyHits:
            raise BadRequest(f"Søket gir flere treff enn tillatt (maks {limit} kjøretøy)") from None

    return await _list_answer(
        request, query.echo, await lookup(request.app, work), FNR_ETTERNAVN_UKJENT
    )


async def _list_answer(
    request: web.Request, echo: Json, found: list[VehicleResult] | None, miss: str
) -> web.Response:
    """A person's or organisation's vehicles as ``kjoretoydataListe``, or ``miss``."""
    if found is None:
        return await _single_answer(request, {"request": echo, "feilmelding": miss}, 0)
    liste = _liste(found)
    return await _single_answer(request, {"request": echo, "kjoretoydataListe": liste}, len(liste))


async def organisasjon(request: web.Request) -> web.Response:
    """GET ``kjoretoyoppslag/organisasjon?organisasjonsnummer=&dtg=&side=&antall=``."""
    settings = request.app[SETTINGS]
    query = organisasjon_query(
        request.query,
        default_antall=min(settings.akfell_default_antall, settings.akfell_max_antall),
        max_antall=settings.akfell_max_antall,
    )

    def work(register: Register) -> list[VehicleResult] | None:
        return owned.organisation_vehicles(
            register, query.organisasjonsnummer, query.dtg, side=query.side, antall=query.antall
        )

    return await _list_answer(
        request, query.echo, await lookup(request.app, work), ORGANISASJONSNUMMER_UKJENT
    )


async def enkeltoppslag(request: web.Request) -> web.Response:
    """GET ``enkeltoppslag/kjoretoydata?kjennemerke=…`` or ``?understellsnummer=…`` (no owner)."""
    kind, value = enkeltoppslag_query(request.query)
    if _switch_on(request):
        return quota_response(
            "Dagens kvote for enkeltoppslag er brukt opp; prøv igjen etter midnatt"
        )
    try:
        request.app[ENKELTOPPSLAG_QUOTA].take(request[CLIENT], 1)
    except QuotaExhausted:
        return quota_response(
            "Dagens kvote for enkeltoppslag er brukt opp; prøv igjen etter midnatt"
        )

    def work(register: Register) -> list[VehicleResult]:
        if kind == "kjennemerke":
            return register.many_by_kjennemerke([(value, None)])[0]
        return register.by_understellsnummer(value, None)

    found = await lookup(request.app, work, items=1)
    miss = KJENNEMERKE_UKJENT if kind == "kjennemerke" else UNDERSTELLSNUMMER_UKJENT
    if not found:
        return json_response({"feilmelding": miss, "kjoretoydataListe": []})
    if all(r.hidden for r in found):
        return json_response({"feilmelding": OPPLYSNINGER_UTILGJENGELIG, "kjoretoydataListe": []})
    liste = [to_akfell(r.kjoretoy, eierskap=False) for r in found if not r.hidden]
    return json_response({"kjoretoydataListe": liste})


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Any], bool], ...] = (
    # (method, path, handler, is the enkeltoppslag: API key accepted)
    ("POST", PREFIX + "/bulk/kjennemerke", bulk_kjennemerke, False),
    ("POST", PREFIX + "/bulk/kuid", bulk_kuid, False),
    ("POST", PREFIX + "/bulk/understellsnummer", bulk_understellsnummer, False),
    ("GET", PREFIX + "/person", person, False),
    ("GET", PREFIX + "/organisasjon", organisasjon, False),
    ("GET", ENKELTOPPSLAG, enkeltoppslag, True),
)

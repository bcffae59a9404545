"""The v2 bulk answers as JSON bytes: one ``KjoretoyResponse`` per requested item.

Kept apart from the routes (:mod:`.bulk`) so that a lookup process (:mod:`.lookup_processes`)
renders exactly what the event loop's own path renders, without importing the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import orjson

from kjoretoyregister.svv.register import Register, VehicleResult

BulkKind = Literal["kjennemerke", "kuid"]
Items = Sequence[tuple[str, datetime | None]]

KJENNEMERKE_UKJENT = {
    "kode": "KJENNEMERKE_UKJENT",
    "beskrivelse": "Fant ikke kjøretøy med oppgitt kjennemerke",
}
KUID_UKJENT = {"kode": "KUID_UKJENT", "beskrivelse": "Fant ikke kjøretøy med oppgitt kuid"}
UNDERSTELLSNUMMER_UKJENT = {
    "kode": "UNDERSTELLSNUMMER_UKJENT",
    "beskrivelse": "Fant ikke kjøretøy med oppgitt understellsnummer",
}
OPPLYSNINGER_UTILGJENGELIG = {
    "kode": "OPPLYSNINGER_UTILGJENGELIG",
    "beskrivelse": "Opplysningene om kjøretøyet er ikke tilgjengelige",
}


def kjoretoy_response(result: VehicleResult) -> dict[str, Any]:
    """One ``KjoretoyResponse`` for a vehicle found (or withheld)."""
    if result.hidden:
        return {"responskoder": [OPPLYSNINGER_UTILGJENGELIG]}
    return {"kjoretoy": result.kjoretoy, "responskoder": []}


def one_per_item(results: Sequence[list[VehicleResult]], miss: dict[str, str]) -> bytes:
    """Render ``many_by_*`` results, one element per requested item, as JSON bytes.

    A plate or kuid names at most one vehicle at a time; should the register ever return more,
    the first is used so that answers still pair with requests by index.
    """
    body = [kjoretoy_response(found[0]) if found else {"responskoder": [miss]} for found in results]
    return orjson.dumps(body)


def render_bulk(register: Register, kind: BulkKind, items: Items) -> bytes:
    """The whole answer to ``bulk/kjennemerke`` or ``bulk/kuid`` for ``items``, in order."""
    return render_bulk_keeping(register, kind, items)[0]


def render_bulk_keeping(
    register: Register, kind: BulkKind, items: Items
) -> tuple[bytes, Sequence[list[VehicleResult]]]:
    """:func:`render_bulk`, and the results it was rendered from, for a caller that frees
    them only once the answer is on its way (freeing a 1,000-plate answer's ~50,000 objects
    is some 6 % of rendering it)."""
    if kind == "kjennemerke":
        results = register.many_by_kjennemerke(items)
        return one_per_item(results, KJENNEMERKE_UKJENT), results
    results = register.many_by_kuid(items)
    return one_per_item(results, KUID_UKJENT), results

"""From a request and SVV's answer to the audit event's items (pure, cheap, never raises).

Bulk answers are a JSON array of ``KjoretoyResponse`` in request order: an element with
``kjoretoy`` is *found*, one whose ``responskoder`` say ``…UTILGJENGELIG`` is *hidden*, any
other is *not found*. For ``bulk/understellsnummer`` one VIN may give several vehicles. A search
is one item (its validated parameters); 200 with hits is *found*, 204 *not found*. Anything SVV
answers that does not fit (non-JSON, wrong length, 4xx/5xx) makes the items *error*: they are
still recorded, because the caller asked for them.

A 1,000-plate answer is ~5.6 MB of JSON; turning all of it into Python objects (orjson) took
60 ms plus the garbage collector's passes over ~300,000 objects, on the event loop, for the
handful of fields the audit needs. Bulk answers are therefore decoded with msgspec into
structs that hold only those fields (unknown fields are skipped without building objects):
~5 ms. An answer that does not fit that shape falls back to the generic path, so the outcome
is the same either way (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec
import orjson

from kjoretoyregister.audit.events import ERROR, FOUND, HIDDEN, NOT_FOUND, AuditItem, Outcome
from kjoretoyregister.gateway.routes import Route, RouteKind
from kjoretoyregister.gateway.validation import ValidatedRequest

_ROLES = ("eier", "medeier", "leasingtaker", "underenhet")
_VEHICLE_IDS = ("kjennemerke", "understellsnummer", "kuid")
_T = TypeVar("_T")
Found = tuple[Outcome, list[str], list[tuple[str, str]]]


# gc=False: these structs hold only strings, None and each other (no cycles), so the cyclic
# collector need not track the ~6,000 a 1,000-plate answer decodes into.
class _Person(msgspec.Struct, gc=False):
    fodselsnummer: str | None = None


class _Enhet(msgspec.Struct, gc=False):
    organisasjonsnummer: str | None = None


class _PersonEnhet(msgspec.Struct, gc=False):
    person: _Person | None = None
    enhet: _Enhet | None = None


class _Eierforhold(msgspec.Struct, gc=False):
    eier: _PersonEnhet | None = None
    medeier: _PersonEnhet | None = None
    leasingtaker: _PersonEnhet | None = None
    underenhet: _PersonEnhet | None = None


class _KjoretoyId(msgspec.Struct, gc=False):
    kjennemerke: str | None = None
    understellsnummer: str | None = None
    kuid: str | None = None


class _Kjoretoy(msgspec.Struct, gc=False):
    kjoretoyId: _KjoretoyId | None = None
    eierskap: _Eierforhold | None = None


class _Responskode(msgspec.Struct, gc=False):
    kode: str | None = None


class _KjoretoyResponse(msgspec.Struct, gc=False):
    kjoretoy: _Kjoretoy | None = None
    responskoder: list[_Responskode] | None = None


_BULK_ANSWER = msgspec.json.Decoder(list[_KjoretoyResponse])


def _fast_identity(party: _PersonEnhet | None) -> str | None:
    if party is None:
        return None
    if party.person is not None and party.person.fodselsnummer is not None:
        return party.person.fodselsnummer
    if party.enhet is not None and party.enhet.organisasjonsnummer is not None:
        return party.enhet.organisasjonsnummer
    return None


def _fast_outcome(element: _KjoretoyResponse) -> Found:
    """:func:`_element_outcome` for a decoded struct (same rules, same result)."""
    k = element.kjoretoy
    if k is None:
        koder = element.responskoder or ()
        hidden = any("UTILGJENGELIG" in (c.kode or "") for c in koder)
        return (HIDDEN if hidden else NOT_FOUND), [], []
    idents: list[str] = []
    if (e := k.eierskap) is not None:
        for party in (e.eier, e.medeier, e.leasingtaker, e.underenhet):
            if ident := _fast_identity(party):  # "" is no identity, as in identities_of
                idents.append(ident)
    vehicles: list[tuple[str, str]] = []
    if (i := k.kjoretoyId) is not None:
        for kind, value in (
            ("kjennemerke", i.kjennemerke),
            ("understellsnummer", i.understellsnummer),
            ("kuid", i.kuid),
        ):
            if value:
                vehicles.append((kind, value))
    return FOUND, idents, vehicles


def _bulk_outcomes(body: bytes) -> list[Found] | None:
    """Each element's outcome of a bulk answer, or None when the body is not JSON at all."""
    try:
        return [_fast_outcome(e) for e in _BULK_ANSWER.decode(body)]
    except msgspec.DecodeError:
        pass  # not this shape (a ValidationError is a DecodeError): decode it generically
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return [_element_outcome(e) for e in data] if isinstance(data, list) else None


def identities_of(kjoretoy: Any) -> list[str]:
    """fnr/orgnr of eier, medeier, leasingtaker and underenhet in one ``Kjoretoy``."""
    out: list[str] = []
    eierskap = kjoretoy.get("eierskap") if isinstance(kjoretoy, dict) else None
    if not isinstance(eierskap, dict):
        return out
    for role in _ROLES:
        ident = _identity_of_person_enhet(eierskap.get(role))
        if ident:
            out.append(ident)
    return out


def vehicle_ids_of(kjoretoy: Any) -> list[tuple[str, str]]:
    """``(kind, value)`` of the plate, VIN and kuid in one ``Kjoretoy``'s ``kjoretoyId``."""
    ident = kjoretoy.get("kjoretoyId") if isinstance(kjoretoy, dict) else None
    if not isinstance(ident, dict):
        return []
    return [(k, v) for k in _VEHICLE_IDS if isinstance(v := ident.get(k), str) and v]


def _identity_of_person_enhet(party: Any) -> str | None:
    if not isinstance(party, dict):
        return None
    person, enhet = party.get("person"), party.get("enhet")
    if isinstance(person, dict) and isinstance(person.get("fodselsnummer"), str):
        return str(person["fodselsnummer"])
    if isinstance(enhet, dict) and isinstance(enhet.get("organisasjonsnummer"), str):
        return str(enhet["organisasjonsnummer"])
    return None


def _dedup(values: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(values))


def _is_hidden(element: dict[str, Any]) -> bool:
    koder = element.get("responskoder")
    if not isinstance(koder, list):
        return False
    return any(isinstance(k, dict) and "UTILGJENGELIG" in str(k.get("kode", "")) for k in koder)


def _element_outcome(element: Any) -> Found:
    if not isinstance(element, dict):
        return ERROR, [], []
    kjoretoy = element.get("kjoretoy")
    if isinstance(kjoretoy, dict):
        return FOUND, identities_of(kjoretoy), vehicle_ids_of(kjoretoy)
    return (HIDDEN if _is_hidden(element) else NOT_FOUND), [], []


def _identifier_type(route: Route) -> str:
    if route.kind is RouteKind.SOK:
        return route.name
    return route.name.removeprefix("bulk/")


def request_items(
    route: Route, validated: ValidatedRequest, outcome: Outcome
) -> tuple[AuditItem, ...]:
    """Items for a request SVV did not answer usefully: every one with the same outcome."""
    kind = _identifier_type(route)
    if route.kind is RouteKind.SOK:
        return (AuditItem(kind, urlencode(validated.search), None, outcome),)
    return tuple(AuditItem(kind, i.identifier, i.dtg, outcome) for i in validated.items)


def items_from_answer(
    route: Route, validated: ValidatedRequest, status: int, body: bytes
) -> tuple[AuditItem, ...]:
    """Per-item outcomes from SVV's status and body (see the module docstring)."""
    if status == 204:
        return request_items(route, validated, NOT_FOUND)
    if status != 200:
        return request_items(route, validated, ERROR)
    kind = _identifier_type(route)
    if route.kind is RouteKind.BULK_BODY:
        results = _bulk_outcomes(body)
        if results is None or len(results) != len(validated.items):
            return request_items(route, validated, ERROR)
        return tuple(
            AuditItem(kind, item.identifier, item.dtg, outcome, _dedup(idents), tuple(vehicles))
            for item, (outcome, idents, vehicles) in zip(validated.items, results, strict=True)
        )
    if route.kind is RouteKind.BULK_PATH:
        results = _bulk_outcomes(body)
        if results is None:
            return request_items(route, validated, ERROR)
        return (_merge(kind, validated, results),)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return request_items(route, validated, ERROR)
    return (_search_item(route, validated, data),)


def _merge(kind: str, validated: ValidatedRequest, results: list[Found]) -> AuditItem:
    item = validated.items[0]
    outcomes = {o for o, _, _ in results}
    outcome: Outcome
    if FOUND in outcomes:
        outcome = FOUND
    elif ERROR in outcomes:
        outcome = ERROR
    elif HIDDEN in outcomes:
        outcome = HIDDEN
    else:
        outcome = NOT_FOUND
    idents = _dedup(i for _, ids, _ in results for i in ids)
    vehicles = _dedup(v for _, _, vs in results for v in vs)
    return AuditItem(kind, item.identifier, item.dtg, outcome, idents, vehicles)


def _search_item(route: Route, validated: ValidatedRequest, data: Any) -> AuditItem:
    identifier = urlencode(validated.search)
    if not isinstance(data, dict):
        return AuditItem(route.name, identifier, None, ERROR)
    idents: list[str] = []
    vehicles: list[tuple[str, str]] = []
    if route.name == "sok/kunde":
        for key in ("treffListe", "kunder"):
            for kunde in data.get(key) or ():
                if isinstance(kunde, dict):
                    ident = _identity_of_person_enhet(kunde.get("personEnhet"))
                    if ident:
                        idents.append(ident)
        hits = bool(data.get("treffListe") or data.get("kunder"))
    else:
        hits = False
        for key in ("kjoretoyresponser", "kjoretoy"):
            for element in data.get(key) or ():
                outcome, found, ids = _element_outcome(element)
                hits = hits or outcome is FOUND
                idents.extend(found)
                vehicles.extend(ids)
    outcome = FOUND if hits else NOT_FOUND
    return AuditItem(route.name, identifier, None, outcome, _dedup(idents), _dedup(vehicles))

"""From a request and SVV's answer to the audit event's items (pure, cheap, never raises).

Bulk answers are a JSON array of ``KjoretoyResponse`` in request order: an element with
``kjoretoy`` is *found*, one whose ``responskoder`` say ``…UTILGJENGELIG`` is *hidden*, any
other is *not found*. For ``bulk/understellsnummer`` one VIN may give several vehicles. A search
is one item (its validated parameters); 200 with hits is *found*, 204 *not found*. Anything SVV
answers that does not fit (non-JSON, wrong length, 4xx/5xx) makes the items *error*: they are
still recorded, because the caller asked for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson

from kjoretoyregister.audit.events import ERROR, FOUND, HIDDEN, NOT_FOUND, AuditItem, Outcome
from kjoretoyregister.gateway.routes import Route, RouteKind
from kjoretoyregister.gateway.validation import ValidatedRequest

_ROLES = ("eier", "medeier", "leasingtaker", "underenhet")
_VEHICLE_IDS = ("kjennemerke", "understellsnummer", "kuid")
_T = TypeVar("_T")
Found = tuple[Outcome, list[str], list[tuple[str, str]]]


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
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return request_items(route, validated, ERROR)
    kind = _identifier_type(route)
    if route.kind is RouteKind.BULK_BODY:
        if not isinstance(data, list) or len(data) != len(validated.items):
            return request_items(route, validated, ERROR)
        out = []
        for item, element in zip(validated.items, data, strict=True):
            outcome, idents, vehicles = _element_outcome(element)
            out.append(
                AuditItem(kind, item.identifier, item.dtg, outcome, _dedup(idents), tuple(vehicles))
            )
        return tuple(out)
    if route.kind is RouteKind.BULK_PATH:
        if not isinstance(data, list):
            return request_items(route, validated, ERROR)
        return (_merge(kind, validated, [_element_outcome(e) for e in data]),)
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

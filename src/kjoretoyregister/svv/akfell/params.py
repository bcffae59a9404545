"""Parsing of akfell requests: bulk bodies (with the echo of each item) and query strings.

Bulk bodies follow the v2 rules of :func:`~kjoretoyregister.svv.validation.parse_bulk_body`
(a JSON list of objects; a bad element or more than ``max_bulk_items`` makes the whole request a
400 naming what is valid). Each ``responser`` element echoes its ``request`` as sent: the
identifier and, where the schema has one, the ``dtg`` (SVV echoes them unchanged, JWTGG).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from multidict import MultiMapping

from kjoretoyregister.svv.errors import BadRequest
from kjoretoyregister.svv.validation import InvalidDtg, parse_bulk_body, parse_optional_dtg

_FNR = re.compile(r"[0-9]{11}")
_ORGNR = re.compile(r"[0-9]{9}")


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One bulk element: the normalised identifier, its dtg, and the echo for the answer."""

    identifier: str
    dtg: datetime | None
    echo: dict[str, Any]


def bulk_items(raw: bytes, key: str, *, max_items: int, with_dtg: bool = True) -> list[BulkItem]:
    """Parse an akfell bulk body ``[{"<key>": "…", "dtg": "…"}]``.

    Raises:
        BadRequest: the body is not such a list, an element is bad, or there are too many.
    """
    parsed = parse_bulk_body(raw, key, max_items=max_items)
    elements = orjson.loads(raw)  # valid: parse_bulk_body has read it
    items: list[BulkItem] = []
    for (identifier, dtg), element in zip(parsed, elements, strict=True):
        echo: dict[str, Any] = {key: element[key]}
        if with_dtg and element.get("dtg") is not None:
            echo["dtg"] = element["dtg"]
        items.append(BulkItem(identifier, dtg if with_dtg else None, echo))
    return items


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise BadRequest(f"{name} er oppgitt flere ganger")
    return values[0] if values else None


def _only(query: MultiMapping[str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise BadRequest(
            f"Ukjent parameter: {', '.join(unknown)[:100]} (tillatt: {', '.join(allowed)})"
        )


def _dtg(query: MultiMapping[str]) -> datetime | None:
    try:
        return parse_optional_dtg(_single(query, "dtg"))
    except InvalidDtg as exc:
        raise BadRequest(str(exc)) from None


@dataclass(frozen=True, slots=True)
class PersonQuery:
    fodselsnummer: str
    etternavn: str
    dtg: datetime | None
    echo: dict[str, Any]


def person_query(query: MultiMapping[str]) -> PersonQuery:
    """``fodselsnummer`` (11 digits: fødselsnummer or d-nummer), ``etternavn``, ``dtg``?."""
    _only(query, ("fodselsnummer", "etternavn", "dtg"))
    fnr = (_single(query, "fodselsnummer") or "").strip()
    etternavn = (_single(query, "etternavn") or "").strip()
    if not _FNR.fullmatch(fnr):
        raise BadRequest(
            "fodselsnummer må være 11 siffer (fødselsnummer eller d-nummer), f.eks. "
            "fodselsnummer=63888700414"
        )
    if not etternavn:
        raise BadRequest("etternavn mangler: oppgi etternavnet slik det står i Folkeregisteret")
    if len(etternavn) > 100:
        raise BadRequest("etternavn er for langt (maks 100 tegn)")
    dtg = _dtg(query)
    echo: dict[str, Any] = {"fodselsnummer": fnr, "etternavn": etternavn}
    if dtg is not None:
        echo["dtg"] = query["dtg"]
    return PersonQuery(fnr, etternavn, dtg, echo)


@dataclass(frozen=True, slots=True)
class OrganisasjonQuery:
    organisasjonsnummer: str
    dtg: datetime | None
    side: int
    antall: int
    echo: dict[str, Any]


def _int(query: MultiMapping[str], name: str, default: int, minimum: int) -> int:
    text = _single(query, name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()):
        raise BadRequest(f"{name} må være et heltall ≥ {minimum}, var {text[:20]!r}")
    value = int(text)
    if value < minimum:
        raise BadRequest(f"{name} må være et heltall ≥ {minimum}, var {value}")
    return value


def organisasjon_query(
    query: MultiMapping[str], *, default_antall: int, max_antall: int
) -> OrganisasjonQuery:
    """``organisasjonsnummer`` (9 digits), ``dtg``?, ``side`` (from 0), ``antall`` (1-max)."""
    _only(query, ("organisasjonsnummer", "dtg", "side", "antall"))
    orgnr = (_single(query, "organisasjonsnummer") or "").strip()
    if not _ORGNR.fullmatch(orgnr):
        raise BadRequest(
            "organisasjonsnummer må være 9 siffer, f.eks. organisasjonsnummer=971032081"
        )
    dtg = _dtg(query)
    side = _int(query, "side", 0, 0)
    antall = _int(query, "antall", default_antall, 1)
    if antall > max_antall:
        raise BadRequest(
            f"antall ({antall}) er høyere enn tillatt antall treff per side (maks {max_antall})"
        )
    echo: dict[str, Any] = {"organisasjonsnummer": orgnr, "side": side, "antall": antall}
    if dtg is not None:
        echo["dtg"] = query["dtg"]
    return OrganisasjonQuery(orgnr, dtg, side, antall, echo)


def enkeltoppslag_query(query: MultiMapping[str]) -> tuple[str, str]:
    """Exactly one of ``kjennemerke`` (2-7 characters) and ``understellsnummer`` (1-19).

    Returns:
        ("kjennemerke" | "understellsnummer", the value as given, stripped).
    """
    _only(query, ("kjennemerke", "understellsnummer"))
    plate = _single(query, "kjennemerke")
    vin = _single(query, "understellsnummer")
    if (plate is None) == (vin is None):
        raise BadRequest("Oppgi nøyaktig én av kjennemerke og understellsnummer")
    if plate is not None:
        value = plate.replace(" ", "").replace("-", "").strip()
        if not 2 <= len(value) <= 7:
            raise BadRequest("kjennemerke må ha 2 til 7 tegn (vanlig, veteran eller personlig)")
        return "kjennemerke", value
    assert vin is not None
    value = vin.strip()
    if not 1 <= len(value) <= 19:
        raise BadRequest("understellsnummer må ha 1 til 19 tegn")
    return "understellsnummer", value

"""Per-endpoint input validation: pure functions from request parts to validated input.

Validation only decides *whether* a request may go upstream; the body bytes and query string
that go upstream are the caller's own (not reshaped), so SVV sees exactly what the caller sent.
The validated values are what the audit event records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kjoretoyregister.gateway.errors import InvalidInput
from kjoretoyregister.gateway.routes import Route, RouteKind

# Plates: ordinary "CU 11297", personal plates up to 7 characters incl. ÆØÅ; spaces and
# hyphens are separators SVV ignores. Search patterns may use '?' for one unknown character.
_KJENNEMERKE = re.compile(r"[A-Za-z0-9ÆØÅæøå]{1,10}")
_KJENNEMERKE_SOK = re.compile(r"[A-Za-z0-9ÆØÅæøå?]{1,10}")
_KUID = re.compile(r"[0-9]{1,10}")
# VIN (17) and older chassis numbers (shorter); letters and digits only.
_VIN = re.compile(r"[A-Za-z0-9]{1,30}")
_VIN_SOK = re.compile(r"\*?[A-Za-z0-9]{1,30}\*?")
_FNR = re.compile(r"[0-9]{11}")
_ORGNR = re.compile(r"[0-9]{9}")
_KUNDEID = re.compile(r"[0-9]{1,15}")
_MERKEKODE = re.compile(r"[0-9]{1,4}")
_POSTNUMMER = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[0-9]{4}")
_DATE_OR_YEAR = re.compile(f"{_DATE.pattern}|{_YEAR.pattern}")
_POSINT = re.compile(r"[1-9][0-9]{0,5}")
# ISO 8601 / RFC 3339 date-time with an offset (SVV's examples all carry one); 0-9 fraction digits.
_DTG = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})"
)
_BOOL = frozenset({"true", "false"})
_MAX_TEXT = 100
_MAX_NAME = 200

# What a valid value looks like, for the error that refuses one: an error says what *is* valid.
_DTG_HINT = "dato og klokkeslett med tidssone, f.eks. 2018-11-15T23:00:00+01:00 (Z for UTC)"
_PLATE_HINT = "bokstaver (A–Å) og sifre, høyst 10; mellomrom og bindestrek går, f.eks. CU11297"
_HINTS: dict[re.Pattern[str], str] = {
    _KJENNEMERKE: _PLATE_HINT,
    _KJENNEMERKE_SOK: (
        "bokstaver og sifre med ? for ett ukjent tegn (høyst tre ?), f.eks. CU1129?; "
        "* brukes bare i sok/understellsnummer"
    ),
    _KUID: "1–10 sifre",
    _VIN: "bokstaver og sifre, høyst 30, f.eks. SISDINKY45727043",
    _VIN_SOK: "bokstaver og sifre, høyst 30, med * først og/eller sist som jokertegn",
    _FNR: "11 sifre",
    _ORGNR: "9 sifre",
    _KUNDEID: "1–15 sifre",
    _MERKEKODE: "1–4 sifre",
    _POSTNUMMER: "4 sifre, f.eks. 0150",
    _DATE: "en dato ÅÅÅÅ-MM-DD",
    _DATE_OR_YEAR: "en dato ÅÅÅÅ-MM-DD eller et årstall ÅÅÅÅ",
    _POSINT: "et heltall fra 1",
}
_SHOWN = 30  # at most this much of a refused value is echoed back to the caller


@dataclass(frozen=True, slots=True)
class LookupItem:
    """One validated identifier of a bulk request (as the caller wrote it) and its dtg."""

    identifier: str
    dtg: str | None


@dataclass(frozen=True, slots=True)
class ValidatedRequest:
    """What passed validation: lookup items (bulk) or the search parameters (sok)."""

    items: tuple[LookupItem, ...]
    search: tuple[tuple[str, str], ...] = ()


def _fail(message: str) -> InvalidInput:
    return InvalidInput(message)


def valid_dtg(value: str) -> bool:
    """True for an ISO 8601 date-time with offset whose fields are in range."""
    if not _DTG.fullmatch(value):
        return False
    text = value.replace("Z", "+00:00")
    # fromisoformat accepts at most 6 fraction digits; the range check is what matters here.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _plate(value: str, pattern: re.Pattern[str]) -> bool:
    return bool(pattern.fullmatch(value.replace(" ", "").replace("-", "")))


def validate_bulk_body(route: Route, body: bytes, max_items: int) -> ValidatedRequest:
    """Validate a bulk POST body: a JSON array of 1..max_items ``{<id>, dtg?}`` objects."""
    key = route.name.removeprefix("bulk/")
    if not body:
        raise _fail("Forespørselen mangler innhold (en JSON-liste)")
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _fail("Innholdet er ikke gyldig JSON") from None
    if not isinstance(data, list):
        raise _fail("Innholdet må være en JSON-liste")
    if not data:
        raise _fail("Listen er tom")
    if len(data) > max_items:
        raise _fail(f"For mange elementer: høyst {max_items} per forespørsel")
    items: list[LookupItem] = []
    for index, entry in enumerate(data):
        items.append(_bulk_item(key, index + 1, entry))
    return ValidatedRequest(tuple(items))


def _shown(value: str) -> str:
    """A refused value as the caller wrote it, cut short and with control bytes escaped."""
    cut = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
    return cut if cut.isprintable() else repr(cut)[1:-1]


def _bulk_item(key: str, number: int, entry: Any) -> LookupItem:
    # Numbered from 1 as a case officer counts, with the value the caller sent (it is theirs).
    where = f"{key} nr. {number}"
    if not isinstance(entry, dict):
        raise _fail(f"{where}: må være et objekt")
    unknown = set(entry) - {key, "dtg"}
    if unknown:
        raise _fail(f"{where}: ukjent felt {sorted(unknown)[0]!r}")
    value = entry.get(key)
    if not isinstance(value, str):
        raise _fail(f"{where}: {key} mangler eller er ikke en tekst")
    pattern = _KJENNEMERKE if key == "kjennemerke" else _KUID
    ok = _plate(value, pattern) if key == "kjennemerke" else bool(pattern.fullmatch(value))
    if not ok:
        raise _fail(f"{where} ({_shown(value)}): ugyldig {key}; gyldig er {_HINTS[pattern]}")
    dtg = entry.get("dtg")
    if dtg is not None and not (isinstance(dtg, str) and valid_dtg(dtg)):
        raise _fail(f"{where}: ugyldig dtg; gyldig er {_DTG_HINT}")
    return LookupItem(value, dtg)


def validate_bulk_path(identifier: str, query: Mapping[str, str], pairs: int) -> ValidatedRequest:
    """Validate ``bulk/understellsnummer/{understellsnummer}`` and its optional ``dtg``."""
    if not _VIN.fullmatch(identifier):
        raise _fail(f"Ugyldig understellsnummer; gyldig er {_HINTS[_VIN]}")
    _allow_only(query, pairs, frozenset({"dtg"}))
    dtg = query.get("dtg")
    if dtg is not None and not valid_dtg(dtg):
        raise _fail(f"Ugyldig dtg; gyldig er {_DTG_HINT}")
    return ValidatedRequest((LookupItem(identifier, dtg),))


def _allow_only(query: Mapping[str, str], pairs: int, allowed: frozenset[str]) -> None:
    if pairs != len(query):
        raise _fail("En parameter er oppgitt flere ganger")
    unknown = [k for k in query if k not in allowed]
    if unknown:
        raise _fail(f"Ukjent parameter {sorted(unknown)[0]!r}")


def _text(value: str, limit: int) -> bool:
    return 0 < len(value) <= limit and value.isprintable()


_PAGING = {"fra": _POSINT, "antall": _POSINT}
_EKSKL = {"ekskluderVraketUtfort": _BOOL}

# Per endpoint: parameter → a regex, a set of allowed values, or a max text length.
Rule = re.Pattern[str] | frozenset[str] | int
_SOK_PARAMS: dict[str, tuple[tuple[str, ...], dict[str, Rule]]] = {
    "sok/kjennemerke": (("kjennemerke",), {"kjennemerke": _KJENNEMERKE_SOK, **_EKSKL, **_PAGING}),
    "sok/understellsnummer": (
        ("understellsnummer",),
        {"understellsnummer": _VIN_SOK, "merkekode": _MERKEKODE, **_EKSKL, **_PAGING},
    ),
    "sok/fodselsnummer": (("fodselsnummer",), {"fodselsnummer": _FNR, **_EKSKL, **_PAGING}),
    "sok/organisasjonsnummer": (
        ("organisasjonsnummer",),
        {"organisasjonsnummer": _ORGNR, **_EKSKL, **_PAGING},
    ),
    "sok/kundeid": (("kundeid",), {"kundeid": _KUNDEID, **_EKSKL, **_PAGING}),
    "sok/eiernavn": (
        ("navn",),
        {
            "navn": _MAX_NAME,
            "postnummer": _POSTNUMMER,
            "poststed": _MAX_TEXT,
            "fylke": _MAX_TEXT,
            "fodselsdato": _DATE,
            "erPerson": _BOOL,
            **_PAGING,
        },
    ),
    "sok/kunde": (
        ("eiertype",),
        {
            "eiertype": frozenset({"PERSON", "ORGANISASJON", "BEGGE"}),
            "navn": _MAX_NAME,
            "fornavn": _MAX_TEXT,
            "mellomnavn": _MAX_TEXT,
            "etternavn": _MAX_TEXT,
            "fodselsdato": _DATE_OR_YEAR,
            "fonetisk": _BOOL,
            "kjonn": frozenset({"M", "K"}),
            "fylke": _MAX_TEXT,
            "kommune": _MAX_TEXT,
            "postnummer": _POSTNUMMER,
            "poststed": _MAX_TEXT,
            **_PAGING,
        },
    ),
}


def _check(name: str, value: str, rule: Rule) -> None:
    if isinstance(rule, int):
        ok = _text(value.strip(), rule)
    elif isinstance(rule, frozenset):
        ok = value in rule
    elif name == "kjennemerke":
        ok = _plate(value, rule) and value.count("?") <= 3
    else:
        ok = bool(rule.fullmatch(value))
    if not ok:
        raise _fail(f"Ugyldig verdi for parameter {name!r}; gyldig er {_hint(rule)}")


def _hint(rule: Rule) -> str:
    if isinstance(rule, int):
        return f"tekst på 1–{rule} tegn"
    if isinstance(rule, frozenset):
        return "en av " + ", ".join(sorted(rule))
    return _HINTS.get(rule, f"en verdi på formen {rule.pattern}")


def validate_sok(route: Route, query: Mapping[str, str], pairs: int) -> ValidatedRequest:
    """Validate a Kjøretøysøk query: allow-listed parameters, required ones present, formats.

    Args:
        query: the parsed query (one value per name).
        pairs: how many name=value pairs the raw query had (to refuse repeated names).
    """
    required, rules = _SOK_PARAMS[route.name]
    _allow_only(query, pairs, frozenset(rules))
    for name in required:
        if name not in query:
            raise _fail(f"Parameter {name!r} mangler")
    for name, value in query.items():
        _check(name, value, rules[name])
    if route.name == "sok/kunde":
        _check_kunde(query)
    search = tuple(sorted(query.items()))
    return ValidatedRequest((), search)


def _check_kunde(query: Mapping[str, str]) -> None:
    split_names = [k for k in ("fornavn", "mellomnavn", "etternavn") if k in query]
    if "navn" in query and split_names:
        raise _fail("Oppgi enten 'navn' eller 'fornavn'/'mellomnavn'/'etternavn', ikke begge")
    if "fonetisk" in query and "navn" not in query:
        raise _fail("'fonetisk' kan bare brukes med 'navn'")
    if "kjonn" in query and query.get("eiertype") != "PERSON":
        raise _fail("'kjonn' kan bare brukes med eiertype=PERSON")


def validate(
    route: Route,
    *,
    body: bytes,
    path_identifier: str | None,
    query: Mapping[str, str],
    query_pairs: int,
    max_items: int,
) -> ValidatedRequest:
    """Dispatch to the endpoint's validator; raise :class:`InvalidInput` on any fault."""
    if route.kind is RouteKind.BULK_BODY:
        if query:
            raise _fail("Denne tjenesten tar ingen parametere i adressen")
        return validate_bulk_body(route, body, max_items)
    if body:
        raise _fail("Denne tjenesten tar ikke innhold i forespørselen")
    if route.kind is RouteKind.BULK_PATH:
        if path_identifier is None:  # the router guarantees it; a bug otherwise
            raise RuntimeError("bulk path route without identifier")
        return validate_bulk_path(path_identifier, query, query_pairs)
    return validate_sok(route, query, query_pairs)


def count_pairs(pairs: Iterable[object]) -> int:
    """Count raw query pairs (helper so callers need not build a list)."""
    return sum(1 for _ in pairs)

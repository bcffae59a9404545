"""Parsing of bulk request bodies and of ``dtg`` (dato-tidsgruppe): pure functions.

Decisions (SVV documents none of these; see svv-api.md §3):

- ``dtg`` is an ISO 8601 / RFC 3339 date-time **with** an offset (``Z`` or ``±HH:MM``), seconds
  optional, 0 to 9 fraction digits: ``2018-11-15T23:00:00.000+01:00``,
  ``2023-06-02T13:33:07+02:00``. A naive date-time or a bare date is rejected, because "which
  owner at 12:00" has no answer without a zone. Absent or ``null`` means now.
- A bulk body that is not a JSON list of objects, an element whose identifier is missing, not a
  string or empty, an invalid ``dtg`` anywhere, or more than ``max_bulk_items`` elements makes
  the **whole request** a 400 naming the element's (0-based) index. Per-item error codes would
  hide a client bug behind a 200.
- Unknown keys in an element are ignored (as Jackson in SVV's Spring services does by default).
- An empty list is answered with an empty list.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import orjson

from kjoretoyregister.svv.errors import BadRequest
from kjoretoyregister.svv.identifiers import normalise_kjennemerke

# Longest identifier we look up; anything longer is a client bug, not a plate or a kuid.
MAX_IDENTIFIER_LENGTH = 32

_DTG = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt]"
    r"(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})",
    re.ASCII,  # \d must not match other scripts' digits, which int() would happily accept
)

DTG_EXAMPLE = "2018-11-15T23:00:00.000+01:00"


class InvalidDtg(ValueError):
    """A dtg that is not an ISO 8601 date-time with an offset."""


def parse_dtg(text: str) -> datetime:
    """Parse a dtg into a timezone-aware datetime.

    Raises:
        InvalidDtg: malformed, naive, or an impossible date or time.
    """
    match = _DTG.fullmatch(text.strip())
    if match is None:
        raise InvalidDtg(
            f"dtg {_shown(text)} er ikke et tidspunkt med tidssone (f.eks. {DTG_EXAMPLE})"
        )
    tz = match["tz"]
    if tz in ("Z", "z"):
        zone = UTC
    else:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 18 or minutes > 59:
            raise InvalidDtg(f"dtg {_shown(text)} har en ugyldig tidssone")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    fraction = (match["f"] or "").ljust(6, "0")[:6]
    try:
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"] or 0),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError:
        raise InvalidDtg(f"dtg {_shown(text)} er ikke en gyldig dato/tid") from None


def parse_optional_dtg(value: str | None) -> datetime | None:
    """A query-string dtg: absent means now (None)."""
    return None if value is None else parse_dtg(value)


def parse_bulk_body(raw: bytes, key: str, *, max_items: int) -> list[tuple[str, datetime | None]]:
    """Parse a bulk body ``[{"<key>": "...", "dtg": "..."}]`` into (identifier, dtg) pairs.

    Plates (key ``kjennemerke``) are normalised (upper case, no spaces or hyphens); other
    identifiers are stripped and upper-cased.

    Raises:
        BadRequest: with a message naming the element index and what is wrong with it.
    """
    if not raw.strip():
        raise BadRequest(f'Tom forespørsel: forventet en JSON-liste [{{"{key}": …, "dtg": …}}]')
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Ugyldig JSON: {exc}") from None
    if not isinstance(body, list):
        raise BadRequest(
            f'Forventet en JSON-liste [{{"{key}": …, "dtg": …}}], fikk {_json_type(body)}'
        )
    if len(body) > max_items:
        raise BadRequest(f"For mange elementer i forespørselen: {len(body)} (maks {max_items})")
    items: list[tuple[str, datetime | None]] = []
    for index, element in enumerate(body):
        where = f"Element med indeks {index}"
        if not isinstance(element, dict):
            raise BadRequest(f"{where}: forventet et objekt, fikk {_json_type(element)}")
        value = element.get(key)
        if value is None:
            raise BadRequest(f"{where}: '{key}' mangler")
        if not isinstance(value, str):
            raise BadRequest(f"{where}: '{key}' må være en tekst, fikk {_json_type(value)}")
        identifier = normalise_kjennemerke(value) if key == "kjennemerke" else value.strip().upper()
        if not identifier:
            raise BadRequest(f"{where}: '{key}' er tom")
        if len(identifier) > MAX_IDENTIFIER_LENGTH:
            raise BadRequest(f"{where}: '{key}' er for lang (maks {MAX_IDENTIFIER_LENGTH} tegn)")
        dtg_value = element.get("dtg")
        dtg: datetime | None = None
        if dtg_value is not None:
            if not isinstance(dtg_value, str):
                raise BadRequest(f"{where}: 'dtg' må være en tekst, fikk {_json_type(dtg_value)}")
            try:
                dtg = parse_dtg(dtg_value)
            except InvalidDtg as exc:
                raise BadRequest(f"{where}: {exc}") from None
        items.append((identifier, dtg))
    return items


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "en boolsk verdi"
    if isinstance(value, int | float):
        return "et tall"
    if isinstance(value, str):
        return "en tekst"
    if isinstance(value, list):
        return "en liste"
    if isinstance(value, dict):
        return "et objekt"
    return "null"


def _shown(text: str, limit: int = 40) -> str:
    """Quote a client value for an error message, cut short so a huge value stays readable."""
    return repr(text if len(text) <= limit else text[:limit] + "…")

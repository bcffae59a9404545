"""
Pure helpers that turn the client's arguments into SVV's request shapes (no I/O).

- ``format_dtg``: a tz-aware ``datetime`` or a string → SVV's ``dtg`` text.
- ``bulk_items``: plates/kuids with optional per-item dtg → ``[{"kjennemerke": …, "dtg": …}]``.
- ``chunks``: split a bulk list to the service's item limit, order kept.
- ``query``: drop unset query parameters and spell booleans and dates as SVV expects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TypeAlias, TypeVar

Dtg: TypeAlias = datetime | str
"""A point in time for a lookup back in time: tz-aware ``datetime`` or an ISO 8601 string."""

BulkItem: TypeAlias = str | tuple[str, Dtg | None]
"""One bulk identifier, optionally paired with its own ``dtg``."""

T = TypeVar("T")


def format_dtg(dtg: Dtg | None) -> str | None:
    """
    SVV's ``dtg`` text: milliseconds and the offset, e.g. ``2018-11-15T23:00:00.000+01:00``.

    Strings pass unchanged (the gateway validates them). A naive ``datetime`` is refused:
    "15 November 23:00" means different instants in Oslo and UTC, and the owner may differ.

    Raises:
        ValueError: a naive datetime, or an empty string.
    """
    if dtg is None:
        return None
    if isinstance(dtg, datetime):
        if dtg.tzinfo is None or dtg.utcoffset() is None:
            raise ValueError(
                "dtg must be timezone-aware (e.g. datetime(..., tzinfo=ZoneInfo(...)))"
            )
        return dtg.isoformat(timespec="milliseconds")
    if not dtg.strip():
        raise ValueError("dtg must not be empty")
    return dtg


def bulk_items(key: str, items: str | Sequence[BulkItem], dtg: Dtg | None) -> list[dict[str, str]]:
    """
    The JSON body items for ``bulk/kjennemerke`` (key ``kjennemerke``) or ``bulk/kuid``.

    Args:
        key: the identifier field name.
        items: one identifier, or a sequence of identifiers or ``(identifier, dtg)`` pairs.
        dtg: the default dtg for items without their own.
    """
    default = format_dtg(dtg)
    sequence: Sequence[BulkItem] = [items] if isinstance(items, str) else items
    body: list[dict[str, str]] = []
    for item in sequence:
        if isinstance(item, tuple):
            identifier, own = item
            when = format_dtg(own) if own is not None else default
        else:
            identifier, when = item, default
        if not isinstance(identifier, str):
            raise TypeError(f"{key} must be a string, got {type(identifier).__name__}")
        entry = {key: identifier}
        if when is not None:
            entry["dtg"] = when
        body.append(entry)
    return body


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items, in order."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def query(params: Mapping[str, object]) -> dict[str, str]:
    """Query parameters as SVV spells them: unset dropped, ``true``/``false``, ISO dates."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, date | datetime):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    return out

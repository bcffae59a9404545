"""The base every SVV model inherits, and the date helpers the accessors use."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeAlias

from pydantic import BaseModel, ConfigDict

SvvDate: TypeAlias = str
"""A date as SVV sends it, ``YYYY-MM-DD``; kept as text so a dump gives back the same bytes."""

SvvDateTime: TypeAlias = str
"""An ISO 8601 date-time with offset and 0-3 fraction digits, kept as text (see ``SvvDate``)."""


class SvvModel(BaseModel):
    """
    Base of every SVV model: unknown fields are kept, not dropped or refused.

    SVV adds fields without notice; a client that failed on them would break in production,
    and one that dropped them would lose data the caller may need (and break round-trips).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def parse_date(value: str | None) -> date | None:
    """
    Parse an SVV date (or the date part of a date-time); ``None`` stays ``None``.

    Raises:
        ValueError: the text is not an ISO date.
    """
    if value is None:
        return None
    return date.fromisoformat(value[:10])


def parse_datetime(value: str | None) -> datetime | None:
    """
    Parse an SVV date-time (any number of fraction digits, offset or ``Z``).

    Raises:
        ValueError: the text is not an ISO date-time.
    """
    if value is None:
        return None
    return datetime.fromisoformat(value)

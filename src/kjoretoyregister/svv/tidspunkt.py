"""Times and dates as SVV writes them, and the date rules of a vehicle's history.

Oslo time with offset and trimmed milliseconds, the registration status valid at a dtg, and
the EU-kontroll deadlines (first after four years, then every two).
"""

from __future__ import annotations

import bisect
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from kjoretoyregister.svv import kodeverk

OSLO = ZoneInfo("Europe/Oslo")
Json = dict[str, object]
NO_PKK = {"L1e", "O1", "O2"}  # classes without periodic roadworthiness tests


@lru_cache(maxsize=65_536)
def format_time(epoch: float) -> str:
    """Unix seconds as SVV writes them: Oslo time with offset, and milliseconds without their
    trailing zeros where there are any (``2021-03-15T10:12:44+01:00``,
    ``2022-11-18T11:15:24.72+01:00``)."""
    if isinstance(epoch, int):
        return datetime.fromtimestamp(epoch, OSLO).isoformat()
    seconds, millis = divmod(round(epoch * 1000), 1000)
    text = datetime.fromtimestamp(seconds, OSLO).isoformat()
    if not millis:
        return text
    return f"{text[:19]}.{millis:03d}".rstrip("0") + text[19:]


def format_date(epoch: float) -> str:
    """The Oslo calendar date of a moment, ``YYYY-MM-DD``."""
    return format_time(epoch)[:10]


def registrering_at(
    forstereg: float,
    eier_starts: list[float],
    status: int,
    status_fom: float | None,
    avreg: tuple[float, float] | None,
    dtg: float | None,
) -> tuple[int, float, float | None]:
    """(registreringsstatus, fomTidspunkt, tilTidspunkt or None) valid at ``dtg`` (None = now).

    The registration history follows from the vehicle: registered at the first registration and
    again on every change of eier, deregistered during one optional temporary deregistration
    ``avreg`` = (from, to), and finally in its current status from ``status_fom``.
    """
    if dtg is None:
        # Now: the final status if the vehicle left the register, else registered since the
        # latest registration event (first registration, change of eier, re-registration).
        if status != kodeverk.REGISTRERT and status_fom is not None:
            return status, status_fom, None
        latest = max(forstereg, eier_starts[-1] if eier_starts else 0, avreg[1] if avreg else 0)
        return kodeverk.REGISTRERT, latest, None
    events: list[tuple[float, int]] = [(forstereg, kodeverk.REGISTRERT)]
    events.extend((start, kodeverk.REGISTRERT) for start in eier_starts if start > forstereg)
    if avreg is not None:
        events.append((avreg[0], kodeverk.AVREGISTRERT))
        events.append((avreg[1], kodeverk.REGISTRERT))
    if status != kodeverk.REGISTRERT and status_fom is not None:
        events.append((status_fom, status))
    events.sort()
    times = [e[0] for e in events]
    i = bisect.bisect_right(times, dtg) - 1
    if i < 0:
        i = 0
    tom = times[i + 1] if i + 1 < len(times) else None
    return events[i][1], events[i][0], tom


def valid_at(fom: float, tom: float | None, dtg: float | None) -> bool:
    """Whether the interval ``[fom, tom)`` holds at ``dtg`` (None = now: still open)."""
    if dtg is None:
        return tom is None
    return fom <= dtg and (tom is None or dtg < tom)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def periodisk_kontroll(
    klasse: str, status: int, forstereg: int, kuid: int, as_of: int
) -> Json | None:
    """EU-kontroll: first after four years, then every two; always as of the register's now.
    None for a vehicle that has left the register for good, ``{}`` for classes without it."""
    if klasse in NO_PKK:
        return {}  # as SVV shows mopeds and trailers: the object without dates
    if status in (kodeverk.VRAKET, kodeverk.UTFORT):
        return None
    frist, last_due = _kontroll_dates(format_date(forstereg), format_date(as_of))
    if last_due is None:
        return {"kontrollfrist": frist}
    # The last approval: some days before the deadline it met (varies per vehicle).
    return {"kontrollfrist": frist, "sistGodkjent": _iso_day(last_due - kuid % 50)}


@lru_cache(maxsize=65_536)
def start_of_day(day: str) -> str:
    """Midnight of an Oslo day with its offset, ``2019-06-17T00:00:00+02:00``."""
    return datetime.fromisoformat(day).replace(tzinfo=OSLO).isoformat()


@lru_cache(maxsize=65_536)
def _iso_day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


@lru_cache(maxsize=65_536)
def _kontroll_dates(first_registered: str, today: str) -> tuple[str, int | None]:
    """(next deadline, ordinal of the last deadline passed or None) for a first registration."""
    first, now = date.fromisoformat(first_registered), date.fromisoformat(today)
    due = _add_years(first, 4)
    if due > now:
        return due.isoformat(), None
    # The last deadline on or before today: 4 + 2k years after the first registration.
    steps = (now.year - due.year) // 2
    last = _add_years(due, 2 * steps)
    if last > now:
        last = _add_years(due, 2 * (steps - 1))
    return _add_years(last, 2).isoformat(), last.toordinal()

"""Reading a search's query string: one pass, every problem collected, SVV's 400 codes.

:class:`QueryReader` remembers which parameters an endpoint read, so that the rest are reported
as unknown, and gathers every problem (not just the first) as ``Responskode`` objects.
:class:`SokParameterError` carries them to the route, which renders SVV's 400 body: the
endpoint's response schema holding only ``responskoder``.

Codes (SVV publishes no list; these are ours, in SVV's style):

- ``PARAMETER_MANGLER``: a required parameter is missing or empty;
- ``UKJENT_PARAMETER``: a parameter the endpoint does not have;
- ``UGYLDIG_PARAMETER``: a value of the wrong form (bad boolean, ``fra`` < 1, ``antall`` above
  the maximum, a fødselsnummer with a wrong check digit, more than 3 ``?`` …);
- ``UGYLDIG_PARAMETERKOMBINASJON``: parameters that exclude each other (``navn`` with
  ``fornavn``, ``kjonn`` without ``eiertype=PERSON`` …).

Optional parameters given empty (``postnummer=``) count as absent; a parameter given twice is
an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from multidict import MultiMapping

PARAMETER_MANGLER = "PARAMETER_MANGLER"
UKJENT_PARAMETER = "UKJENT_PARAMETER"
UGYLDIG_PARAMETER = "UGYLDIG_PARAMETER"
UGYLDIG_PARAMETERKOMBINASJON = "UGYLDIG_PARAMETERKOMBINASJON"

MAX_TEXT_LENGTH = 200

DIGITS = re.compile(r"[0-9]+")


def responskode(kode: str, beskrivelse: str) -> dict[str, str]:
    """One ``Responskode`` object."""
    return {"kode": kode, "beskrivelse": beskrivelse}


class SokParameterError(Exception):
    """The search parameters are wrong; ``responskoder`` says how, one entry per problem."""

    def __init__(self, responskoder: list[dict[str, str]]) -> None:
        super().__init__("; ".join(r["beskrivelse"] for r in responskoder))
        self.responskoder = responskoder


@dataclass(frozen=True, slots=True)
class SokLimits:
    """Paging limits: ``antall`` when none is given, and the largest ``antall`` allowed."""

    default_antall: int
    max_antall: int

    def __post_init__(self) -> None:
        if not 1 <= self.default_antall <= self.max_antall:
            raise ValueError("need 1 <= default_antall <= max_antall")


@dataclass(slots=True)
class QueryReader:
    """Reads a query string once, remembering which names were read and what was wrong."""

    query: MultiMapping[str]
    read: set[str] = field(default_factory=set)
    problems: list[dict[str, str]] = field(default_factory=list)

    def problem(self, kode: str, beskrivelse: str) -> None:
        self.problems.append(responskode(kode, beskrivelse))

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A text value, stripped; empty counts as absent (and as missing when required)."""
        self.read.add(name)
        values = self.query.getall(name, [])
        if len(values) > 1:
            self.problem(UGYLDIG_PARAMETER, f"Parameteren '{name}' er oppgitt flere ganger")
            return None
        value = values[0].strip() if values else ""
        if not value:
            if required:
                self.problem(PARAMETER_MANGLER, f"Parameteren '{name}' er påkrevd")
            return None
        if len(value) > MAX_TEXT_LENGTH:
            self.problem(
                UGYLDIG_PARAMETER, f"Parameteren '{name}' er for lang (maks {MAX_TEXT_LENGTH} tegn)"
            )
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problem(UGYLDIG_PARAMETER, f"Parameteren '{name}' må være true eller false")
        return None

    def integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not DIGITS.fullmatch(value.lstrip("+-")) or not minimum <= int(value) <= maximum:
            self.problem(
                UGYLDIG_PARAMETER,
                f"Parameteren '{name}' må være et heltall fra og med {minimum} "
                f"til og med {maximum}",
            )
            return None
        return int(value)

    def digits(self, name: str, length: int, what: str, *, required: bool = False) -> str | None:
        value = self.text(name, required=required)
        if value is not None and not (len(value) == length and DIGITS.fullmatch(value)):
            self.problem(
                UGYLDIG_PARAMETER, f"Parameteren '{name}' må være {what} ({length} siffer)"
            )
            return None
        return value

    def iso_date(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.problem(UGYLDIG_PARAMETER, f"Parameteren '{name}' må være en dato (ÅÅÅÅ-MM-DD)")
            return None

    def paging(self, limits: SokLimits) -> tuple[int, int]:
        fra = self.integer("fra", minimum=1, maximum=2**31 - 1)
        antall = self.integer("antall", minimum=1, maximum=limits.max_antall)
        return fra or 1, antall or limits.default_antall

    def finish(self) -> None:
        """Raise :class:`SokParameterError` if anything was wrong or unknown."""
        for name in sorted(set(self.query.keys()) - self.read):
            self.problem(UKJENT_PARAMETER, f"Ukjent parameter '{name}'")
        if self.problems:
            raise SokParameterError(self.problems)

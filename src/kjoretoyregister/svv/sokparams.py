"""Query parameters of the seven Kjøretøysøk endpoints: parsing and checking, no I/O.

Each ``parse_*`` function reads one endpoint's query string with a
:class:`~.sokquery.QueryReader` and returns a small frozen query object whose
``run(register)`` makes the matching :class:`Register` call; problems raise
:class:`~.sokquery.SokParameterError` (see :mod:`.sokquery` for the codes).

``sok/kunde`` also accepts ``fra``/``antall`` (the OpenAPI lists none there; the register pages
every search).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from multidict import MultiMapping

from kjoretoyregister.svv.identifiers import (
    is_valid_fodselsnummer,
    is_valid_orgnr,
    normalise_kjennemerke,
)
from kjoretoyregister.svv.register import Page, Register, VehicleResult
from kjoretoyregister.svv.sokquery import (
    DIGITS,
    PARAMETER_MANGLER,
    UGYLDIG_PARAMETER,
    UGYLDIG_PARAMETERKOMBINASJON,
    QueryReader,
    SokLimits,
)

MAX_KJENNEMERKE_WILDCARDS = 3
# Fewer significant characters than this with a '*' would make the search a table scan.
MIN_VIN_CHARS_WITH_WILDCARD = 3

_PLATE_PATTERN = re.compile(r"[A-ZÆØÅ0-9?]{2,7}")
_VIN_CORE = re.compile(r"[A-Z0-9]{1,19}")


# --- the seven endpoints ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KjennemerkeSok:
    pattern: str
    ekskluder_vraket_utfort: bool
    fra: int
    antall: int

    def run(self, register: Register) -> Page[VehicleResult]:
        return register.search_kjennemerke(
            self.pattern,
            ekskluder_vraket_utfort=self.ekskluder_vraket_utfort,
            fra=self.fra,
            antall=self.antall,
        )


def parse_kjennemerke(query: MultiMapping[str], limits: SokLimits) -> KjennemerkeSok:
    """``sok/kjennemerke?kjennemerke=AF3676?``: 2-7 characters, up to 3 ``?`` wildcards."""
    reader = QueryReader(query)
    raw = reader.text("kjennemerke", required=True)
    pattern = normalise_kjennemerke(raw) if raw is not None else ""
    if raw is not None:
        if not _PLATE_PATTERN.fullmatch(pattern):
            reader.problem(
                UGYLDIG_PARAMETER,
                "Parameteren 'kjennemerke' må ha 2-7 bokstaver/siffer, "
                "der '?' står for ett ukjent tegn",
            )
        elif pattern.count("?") > MAX_KJENNEMERKE_WILDCARDS:
            reader.problem(
                UGYLDIG_PARAMETER,
                f"Parameteren 'kjennemerke' kan ha inntil {MAX_KJENNEMERKE_WILDCARDS} ukjente tegn",
            )
    ekskluder = reader.boolean("ekskluderVraketUtfort")
    fra, antall = reader.paging(limits)
    reader.finish()
    return KjennemerkeSok(pattern, bool(ekskluder), fra, antall)


@dataclass(frozen=True, slots=True)
class UnderstellsnummerSok:
    pattern: str
    ekskluder_vraket_utfort: bool
    merkekode: str | None
    fra: int
    antall: int

    def run(self, register: Register) -> Page[VehicleResult]:
        return register.search_understellsnummer(
            self.pattern,
            ekskluder_vraket_utfort=self.ekskluder_vraket_utfort,
            merkekode=self.merkekode,
            fra=self.fra,
            antall=self.antall,
        )


def parse_understellsnummer(query: MultiMapping[str], limits: SokLimits) -> UnderstellsnummerSok:
    """``sok/understellsnummer``: exact, or with ``*`` at the start and/or the end."""
    reader = QueryReader(query)
    raw = reader.text("understellsnummer", required=True)
    pattern = (raw or "").upper()
    if raw is not None:
        core = pattern.strip("*")
        if not _VIN_CORE.fullmatch(core):
            reader.problem(
                UGYLDIG_PARAMETER,
                "Parameteren 'understellsnummer' må ha 1-19 bokstaver/siffer, "
                "med '*' bare først og/eller sist",
            )
        elif core != pattern and len(core) < MIN_VIN_CHARS_WITH_WILDCARD:
            reader.problem(
                UGYLDIG_PARAMETER,
                f"Parameteren 'understellsnummer' må ha minst {MIN_VIN_CHARS_WITH_WILDCARD} "
                "tegn i tillegg til '*'",
            )
    ekskluder = reader.boolean("ekskluderVraketUtfort")
    merkekode = reader.text("merkekode")
    if merkekode is not None and not (len(merkekode) <= 4 and DIGITS.fullmatch(merkekode)):
        reader.problem(UGYLDIG_PARAMETER, "Parameteren 'merkekode' må være 1-4 siffer")
        merkekode = None
    fra, antall = reader.paging(limits)
    reader.finish()
    # Merkekoder are stored zero-padded ("0065"); accept "65" for it too.
    return UnderstellsnummerSok(
        pattern, bool(ekskluder), merkekode.zfill(4) if merkekode else None, fra, antall
    )


@dataclass(frozen=True, slots=True)
class IdentSok:
    """A search by one owner identifier: fødselsnummer, organisasjonsnummer or kundeid."""

    kind: Literal["fodselsnummer", "organisasjonsnummer", "kundeid"]
    value: str
    ekskluder_vraket_utfort: bool
    fra: int
    antall: int

    def run(self, register: Register) -> Page[VehicleResult]:
        search = {
            "fodselsnummer": register.search_fodselsnummer,
            "organisasjonsnummer": register.search_organisasjonsnummer,
            "kundeid": register.search_kundeid,
        }[self.kind]
        return search(
            self.value,
            ekskluder_vraket_utfort=self.ekskluder_vraket_utfort,
            fra=self.fra,
            antall=self.antall,
        )


def parse_fodselsnummer(query: MultiMapping[str], limits: SokLimits) -> IdentSok:
    """``sok/fodselsnummer``: 11 digits with valid check digits (d-numbers included)."""
    reader = QueryReader(query)
    value = reader.digits("fodselsnummer", 11, "et fødselsnummer", required=True)
    if value is not None and not is_valid_fodselsnummer(value):
        reader.problem(UGYLDIG_PARAMETER, "Parameteren 'fodselsnummer' har feil kontrollsiffer")
    return _ident(reader, "fodselsnummer", value, limits)


def parse_organisasjonsnummer(query: MultiMapping[str], limits: SokLimits) -> IdentSok:
    """``sok/organisasjonsnummer``: 9 digits with a valid mod-11 check digit."""
    reader = QueryReader(query)
    value = reader.digits("organisasjonsnummer", 9, "et organisasjonsnummer", required=True)
    if value is not None and not is_valid_orgnr(value):
        reader.problem(
            UGYLDIG_PARAMETER, "Parameteren 'organisasjonsnummer' har feil kontrollsiffer"
        )
    return _ident(reader, "organisasjonsnummer", value, limits)


def parse_kundeid(query: MultiMapping[str], limits: SokLimits) -> IdentSok:
    """``sok/kundeid``: SVV's internal customer id, digits only."""
    reader = QueryReader(query)
    value = reader.text("kundeid", required=True)
    if value is not None and not (len(value) <= 12 and DIGITS.fullmatch(value)):
        reader.problem(UGYLDIG_PARAMETER, "Parameteren 'kundeid' må være 1-12 siffer")
    return _ident(reader, "kundeid", value, limits)


def _ident(
    reader: QueryReader,
    kind: Literal["fodselsnummer", "organisasjonsnummer", "kundeid"],
    value: str | None,
    limits: SokLimits,
) -> IdentSok:
    ekskluder = reader.boolean("ekskluderVraketUtfort")
    fra, antall = reader.paging(limits)
    reader.finish()
    return IdentSok(kind, value or "", bool(ekskluder), fra, antall)


@dataclass(frozen=True, slots=True)
class EiernavnSok:
    navn: str
    postnummer: str | None
    poststed: str | None
    fylke: str | None
    fodselsdato: date | None
    er_person: bool | None
    fra: int
    antall: int

    def run(self, register: Register) -> Page[VehicleResult]:
        return register.search_eiernavn(
            self.navn,
            postnummer=self.postnummer,
            poststed=self.poststed,
            fylke=self.fylke,
            fodselsdato=self.fodselsdato,
            er_person=self.er_person,
            fra=self.fra,
            antall=self.antall,
        )


def parse_eiernavn(query: MultiMapping[str], limits: SokLimits) -> EiernavnSok:
    """``sok/eiernavn?navn=…``; filters postnummer, poststed, fylke, fodselsdato, erPerson."""
    reader = QueryReader(query)
    navn = reader.text("navn", required=True)
    postnummer = reader.digits("postnummer", 4, "et postnummer")
    poststed = reader.text("poststed")
    fylke = reader.text("fylke")
    fodselsdato = reader.iso_date("fodselsdato")
    er_person = reader.boolean("erPerson")
    fra, antall = reader.paging(limits)
    reader.finish()
    return EiernavnSok(navn or "", postnummer, poststed, fylke, fodselsdato, er_person, fra, antall)


Eiertype = Literal["PERSON", "ORGANISASJON", "BEGGE"]
_EIERTYPER: dict[str, Eiertype] = {
    "PERSON": "PERSON",
    "ORGANISASJON": "ORGANISASJON",
    "BEGGE": "BEGGE",
}


@dataclass(frozen=True, slots=True)
class KundeSok:
    eiertype: Eiertype
    names: Mapping[str, str | None]  # navn, fornavn, mellomnavn, etternavn
    fodselsdato: str | None
    fonetisk: bool
    kjonn: Literal["M", "K"] | None
    filters: Mapping[str, str | None]  # fylke, kommune, postnummer, poststed
    fra: int
    antall: int

    def run(self, register: Register) -> Page[dict[str, Any]]:
        return register.search_kunde(
            self.eiertype,
            navn=self.names["navn"],
            fornavn=self.names["fornavn"],
            mellomnavn=self.names["mellomnavn"],
            etternavn=self.names["etternavn"],
            fodselsdato=self.fodselsdato,
            fonetisk=self.fonetisk,
            kjonn=self.kjonn,
            fylke=self.filters["fylke"],
            kommune=self.filters["kommune"],
            postnummer=self.filters["postnummer"],
            poststed=self.filters["poststed"],
            fra=self.fra,
            antall=self.antall,
        )


def parse_kunde(query: MultiMapping[str], limits: SokLimits) -> KundeSok:
    """``sok/kunde``: ``eiertype``, and ``navn`` or ``fornavn``/``mellomnavn``/``etternavn``."""
    reader = QueryReader(query)
    raw_type = reader.text("eiertype", required=True)
    eiertype: Eiertype = "BEGGE"
    if raw_type is not None:
        known = _EIERTYPER.get(raw_type.upper())
        if known is None:
            reader.problem(
                UGYLDIG_PARAMETER, "Parameteren 'eiertype' må være PERSON, ORGANISASJON eller BEGGE"
            )
        else:
            eiertype = known
    names = {n: reader.text(n) for n in ("navn", "fornavn", "mellomnavn", "etternavn")}
    parts_given = [n for n in ("fornavn", "mellomnavn", "etternavn") if names[n] is not None]
    if names["navn"] is not None and parts_given:
        reader.problem(
            UGYLDIG_PARAMETERKOMBINASJON,
            "'navn' kan ikke kombineres med 'fornavn', 'mellomnavn' eller 'etternavn'",
        )
    elif names["navn"] is None and not parts_given:
        reader.problem(
            PARAMETER_MANGLER,
            "Oppgi 'navn' eller minst ett av 'fornavn', 'mellomnavn', 'etternavn'",
        )
    elif parts_given and eiertype == "ORGANISASJON":
        reader.problem(
            UGYLDIG_PARAMETERKOMBINASJON,
            "'fornavn', 'mellomnavn' og 'etternavn' gjelder bare personer",
        )
    fonetisk = reader.boolean("fonetisk")
    if fonetisk is not None and names["navn"] is None:
        reader.problem(UGYLDIG_PARAMETERKOMBINASJON, "'fonetisk' kan bare brukes sammen med 'navn'")
    kjonn_raw = reader.text("kjonn")
    kjonn: Literal["M", "K"] | None = None
    if kjonn_raw is not None:
        if kjonn_raw.upper() == "M" or kjonn_raw.upper() == "K":
            kjonn = "M" if kjonn_raw.upper() == "M" else "K"
            if raw_type is not None and eiertype != "PERSON":
                reader.problem(
                    UGYLDIG_PARAMETERKOMBINASJON, "'kjonn' kan bare brukes med eiertype PERSON"
                )
        else:
            reader.problem(UGYLDIG_PARAMETER, "Parameteren 'kjonn' må være M eller K")
    fodselsdato = reader.text("fodselsdato")
    if fodselsdato is not None and not _is_date_or_year(fodselsdato):
        reader.problem(
            UGYLDIG_PARAMETER, "Parameteren 'fodselsdato' må være en dato (ÅÅÅÅ-MM-DD) eller et år"
        )
    filters = {
        "fylke": reader.text("fylke"),
        "kommune": reader.text("kommune"),
        "postnummer": reader.digits("postnummer", 4, "et postnummer"),
        "poststed": reader.text("poststed"),
    }
    fra, antall = reader.paging(limits)
    reader.finish()
    return KundeSok(eiertype, names, fodselsdato, bool(fonetisk), kjonn, filters, fra, antall)


def _is_date_or_year(value: str) -> bool:
    if re.fullmatch(r"[0-9]{4}", value):
        return True
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True

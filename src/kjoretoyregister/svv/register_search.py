# ruff: noqa: S608  (SQL text is built from this module's constants only; values are bound)
"""Kjøretøysøk on a register file: the searches of :class:`~.register.Register`.

Search semantics (svv-api.md §2.2), all as of now:

- wholly withheld vehicles (``unntattOffentlighet`` EIERSKAP + TEKNISK_DATA) are never hits;
  vehicles whose ownership is withheld are hits for plate and VIN searches (without
  ``eierskap``) but never for searches by owner, so a search cannot reveal the owner;
- owner searches look at the current eier, medeier and leasingtaker;
- paging: ``fra`` is the 1-based first row, ``antall`` the number of rows; rows are ordered by
  plate, VIN or kuid so that pages are stable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Literal, TypeVar

import orjson

from kjoretoyregister.svv.identifiers import (
    fodselsdato_from_fodselsnummer,
    kjonn_from_fodselsnummer,
    normalise_kjennemerke,
)
from kjoretoyregister.svv.kjoretoy import KjoretoyBuilder, Lookups
from kjoretoyregister.svv.persons import normalise_name, phonetic_key
from kjoretoyregister.svv.registerfile import ORGANISASJON, PERSON, SKJERMING_HELT

T = TypeVar("T")

IN_JSON = "IN (SELECT value FROM json_each(?))"
# VRAKET and UTFORT (kodeverk status numbers 2 and 3) are left out on request.
_NOT_SCRAPPED = " AND v.status < 2"
OWNED = (
    "FROM eierskap e JOIN kjoretoy v ON v.kuid = e.kuid "
    f"WHERE e.kunde {IN_JSON} AND e.tom IS NULL AND e.rolle < 3 AND v.skjerming = 0"
)
_PLATE_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZÆØÅ"


class RegisterError(Exception):
    """The register file is missing, is not a register, or has another schema version."""


@dataclass(frozen=True, slots=True)
class VehicleResult:
    """One vehicle as of a dtg: a v2 ``Kjoretoy`` object, or wholly withheld (``hidden``)."""

    kjoretoy: dict[str, Any]
    hidden: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a search: ``total`` hits in all (antallTreffTotalt), ``items`` this page."""

    total: int
    items: list[T]


def json_list(values: Iterable[Any]) -> str:
    return orjson.dumps(list(values)).decode()


def _check_paging(fra: int, antall: int) -> None:
    if fra < 1 or antall < 1:
        raise ValueError("fra and antall must be at least 1")


class RegisterSearches:
    """The Kjøretøysøk searches; :class:`~.register.Register` provides the connection and
    the assembly of vehicles."""

    _lookups: Lookups
    _builder: KjoretoyBuilder
    _fornavn: dict[str, int]
    _fornavn_sound: dict[str, list[int]]
    _etternavn: dict[str, int]
    _etternavn_sound: dict[str, list[int]]
    _by_merkekode: dict[str, list[int]]

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _build(
        self, conn: sqlite3.Connection, wanted: Sequence[tuple[int, float | None]]
    ) -> list[VehicleResult | None]:
        raise NotImplementedError

    def _vehicle_page(
        self,
        conn: sqlite3.Connection,
        count_sql: str,
        page_sql: str,
        params: list[Any],
        fra: int,
        antall: int,
    ) -> Page[VehicleResult]:
        _check_paging(fra, antall)
        total = conn.execute(count_sql, params).fetchone()[0]
        if total == 0 or fra > total:
            return Page(total, [])
        kuids = [
            row[0]
            for row in conn.execute(page_sql + " LIMIT ? OFFSET ?", [*params, antall, fra - 1])
        ]
        built = self._build(conn, [(kuid, None) for kuid in kuids])
        return Page(total, [result for result in built if result is not None])

    # --- Kjøretøysøk ---------------------------------------------------------------------

    def search_kjennemerke(
        self, pattern: str, *, ekskluder_vraket_utfort: bool, fra: int, antall: int
    ) -> Page[VehicleResult]:
        """Current plates matching ``pattern``; ``?`` stands for exactly one character."""
        plate = normalise_kjennemerke(pattern)
        params: list[Any]
        if "?" in plate:
            where = "k.kjennemerke GLOB ?"
            params = [plate.replace("[", "[[]").replace("*", "[*]")]
            prefix = plate.split("?", 1)[0]
            if prefix:
                where += " AND k.kjennemerke >= ? AND k.kjennemerke < ?"
                params += [prefix, prefix + "\U0010ffff"]
            elif len(plate) > 1 and plate[1] != "?":
                # "?B12345", an unknown first character: a range scan per possible first
                # character beats scanning the whole plate index (~40 ms against ~1.5 s at 6 M).
                rest = plate[1:].split("?", 1)[0]
                ranges = " OR ".join(
                    "(k.kjennemerke >= ? AND k.kjennemerke < ?)" for _ in _PLATE_CHARACTERS
                )
                where += f" AND ({ranges})"
                for first in _PLATE_CHARACTERS:
                    params += [first + rest, first + rest + "\U0010ffff"]
        else:
            where, params = "k.kjennemerke = ?", [plate]
        base = (
            "FROM kjennemerker k JOIN kjoretoy v ON v.kuid = k.kuid "
            f"WHERE {where} AND k.tom IS NULL AND v.skjerming < {SKJERMING_HELT}"
        )
        if ekskluder_vraket_utfort:
            base += _NOT_SCRAPPED
        return self._vehicle_page(
            self._conn(),
            f"SELECT count(DISTINCT k.kuid) {base}",
            # Materialised first: with GROUP BY kuid in the same query the planner prefers
            # walking the table in kuid order (a full scan) to using the plate index.
            f"WITH hits AS MATERIALIZED (SELECT k.kuid AS kuid, k.kjennemerke AS plate {base}) "
            "SELECT kuid, min(plate) AS first FROM hits GROUP BY kuid ORDER BY first, kuid",
            params,
            fra,
            antall,
        )

    def search_understellsnummer(
        self,
        pattern: str,
        *,
        ekskluder_vraket_utfort: bool,
        merkekode: str | None,
        fra: int,
        antall: int,
    ) -> Page[VehicleResult]:
        """VINs equal to ``pattern``, or with ``*`` first and/or last as a wildcard.

        A suffix or infix pattern scans the VIN index (about a second at 6 M vehicles).
        """
        text = pattern.strip().upper()
        lead, trail = text.startswith("*"), text.endswith("*")
        core = text.strip("*")
        if not core:
            _check_paging(fra, antall)
            return Page(0, [])
        glob = core.replace("[", "[[]").replace("?", "[?]")
        params: list[Any]
        if not lead and not trail:
            inner, params = "vin = ?", [core]
        elif not lead:
            inner = "vin GLOB ? AND vin >= ? AND vin < ?"
            params = [glob + "*", core, core + "\U0010ffff"]
        else:
            inner, params = "vin GLOB ?", ["*" + glob + ("*" if trail else "")]
        base = (
            f"FROM kjoretoy v WHERE v.kuid IN (SELECT kuid FROM kjoretoy WHERE {inner}) "
            f"AND v.skjerming < {SKJERMING_HELT}"
        )
        if ekskluder_vraket_utfort:
            base += _NOT_SCRAPPED
        if merkekode is not None:
            base += f" AND v.variant {IN_JSON}"
            params.append(json_list(self._by_merkekode.get(merkekode.zfill(4), [])))
        return self._vehicle_page(
            self._conn(),
            f"SELECT count(*) {base}",
            f"SELECT v.kuid {base} ORDER BY v.vin, v.kuid",
            params,
            fra,
            antall,
        )

    def _owned_page(
        self, kunder: list[int], ekskluder: bool, fra: int, antall: int
    ) -> Page[VehicleResult]:
        _check_paging(fra, antall)
        if not kunder:
            return Page(0, [])
        base = OWNED + (_NOT_SCRAPPED if ekskluder else "")
        return self._vehicle_page(
            self._conn(),
            f"SELECT count(DISTINCT e.kuid) {base}",
            f"SELECT DISTINCT e.kuid {base} ORDER BY e.kuid",
            [json_list(kunder)],
            fra,
            antall,
        )

    def _kunder_by_ident(self, ident: str, kind: int) -> list[int]:
        if not ident.isdigit() or len(ident) > 11:
            return []
        return [
            row[0]
            for row in self._conn().execute(
                "SELECT id FROM kunder WHERE ident = ? AND type = ?", (int(ident), kind)
            )
        ]

    def search_fodselsnummer(
        self, fodselsnummer: str, *, ekskluder_vraket_utfort: bool, fra: int, antall: int
    ) -> Page[VehicleResult]:
        """Vehicles whose current eier, medeier or leasingtaker has this fødselsnummer."""
        kunder = self._kunder_by_ident(fodselsnummer.strip(), PERSON)
        return self._owned_page(kunder, ekskluder_vraket_utfort, fra, antall)

    def search_organisasjonsnummer(
        self, organisasjonsnummer: str, *, ekskluder_vraket_utfort: bool, fra: int, antall: int
    ) -> Page[VehicleResult]:
        """Vehicles whose current eier, medeier or leasingtaker is this organisation."""
        kunder = self._kunder_by_ident(organisasjonsnummer.strip(), ORGANISASJON)
        return self._owned_page(kunder, ekskluder_vraket_utfort, fra, antall)

    def search_kundeid(
        self, kundeid: str, *, ekskluder_vraket_utfort: bool, fra: int, antall: int
    ) -> Page[VehicleResult]:
        """Vehicles whose current eier, medeier or leasingtaker has this SVV kundeId."""
        text = kundeid.strip()
        kunder = [int(text)] if text.isdigit() and len(text) <= 12 else []
        return self._owned_page(kunder, ekskluder_vraket_utfort, fra, antall)

    def search_eiernavn(
        self,
        navn: str,
        *,
        postnummer: str | None,
        poststed: str | None,
        fylke: str | None,
        fodselsdato: date | None,
        er_person: bool | None,
        fra: int,
        antall: int,
    ) -> Page[VehicleResult]:
        """Vehicles of current eiere, medeiere and leasingtakere named ``navn`` (full name,
        case-insensitive: ``"fornavn [mellomnavn] etternavn"`` or the organisation name)."""
        _check_paging(fra, antall)
        posts = self._post_filter(postnummer, poststed, fylke, None)
        name = normalise_name(navn)
        rows: list[tuple[Any, ...]] = []
        if er_person is not False:
            rows += self._persons_named(name, phonetic=False)
        if er_person is not True and fodselsdato is None:
            rows += self._orgs_named(name, phonetic=False)
        kunder = [
            row[0]
            for row in rows
            if (posts is None or row[10] in posts)
            and (fodselsdato is None or _born(row) == fodselsdato)
        ]
        return self._owned_page(kunder, False, fra, antall)

    def search_kunde(
        self,
        eiertype: Literal["PERSON", "ORGANISASJON", "BEGGE"],
        *,
        navn: str | None,
        fornavn: str | None,
        mellomnavn: str | None,
        etternavn: str | None,
        fodselsdato: str | None,
        fonetisk: bool,
        kjonn: Literal["M", "K"] | None,
        fylke: str | None,
        kommune: str | None,
        postnummer: str | None,
        poststed: str | None,
        fra: int,
        antall: int,
    ) -> Page[dict[str, Any]]:
        """Kunder (persons and units) by name; items are ``{"personEnhet", "antallKjoretoy"}``.

        ``navn`` is a person's full name or a unit's name (``fonetisk``: sounds alike);
        otherwise ``fornavn``/``mellomnavn``/``etternavn`` must match exactly. Filters:
        ``fodselsdato`` (``YYYY-MM-DD`` or ``YYYY``), ``kjonn``, ``fylke``, ``kommune``,
        ``postnummer``, ``poststed``.
        """
        _check_paging(fra, antall)
        rows: list[tuple[Any, ...]] = []
        want_persons = eiertype in ("PERSON", "BEGGE")
        want_orgs = eiertype in ("ORGANISASJON", "BEGGE") and kjonn is None and not fodselsdato
        if navn is not None:
            name = normalise_name(navn)
            if want_persons:
                rows += self._persons_named(name, phonetic=fonetisk)
            if want_orgs:
                rows += self._orgs_named(name, phonetic=fonetisk)
        elif want_persons:
            rows += self._persons_by_parts(fornavn, mellomnavn, etternavn)
        posts = self._post_filter(postnummer, poststed, fylke, kommune)
        selected = [
            row
            for row in rows
            if (posts is None or row[10] in posts)
            and _birth_matches(row, fodselsdato)
            and (kjonn is None or kjonn_from_fodselsnummer(f"{row[2]:011d}") == kjonn)
        ]
        navn_of = self._lookups.navn
        selected.sort(
            key=lambda r: (
                r[1],
                r[6] or "",
                navn_of.get(r[5], ""),
                navn_of.get(r[3], ""),
                navn_of.get(r[4], ""),
                r[0],
            )
        )
        page = selected[fra - 1 : fra - 1 + antall]
        conn = self._conn()
        items = []
        for row in page:
            count = conn.execute(
                f"SELECT count(DISTINCT e.kuid) {OWNED}", (json_list([row[0]]),)
            ).fetchone()[0]
            items.append({"personEnhet": self._builder.person_enhet(row), "antallKjoretoy": count})
        return Page(len(selected), items)

    # --- name and place matching ---------------------------------------------------------

    def _persons_named(self, name: str, *, phonetic: bool) -> list[tuple[Any, ...]]:
        tokens = name.split()
        if len(tokens) < 2:
            return []
        middle = " ".join(tokens[1:-1])
        if phonetic:
            fornavn = self._fornavn_sound.get(phonetic_key(tokens[0]), [])
            etternavn = self._etternavn_sound.get(phonetic_key(tokens[-1]), [])
            mellom = self._etternavn_sound.get(phonetic_key(middle), []) if middle else []
        else:
            fornavn = [self._fornavn[tokens[0]]] if tokens[0] in self._fornavn else []
            etternavn = [self._etternavn[tokens[-1]]] if tokens[-1] in self._etternavn else []
            mellom = [self._etternavn[middle]] if middle in self._etternavn else []
        if not fornavn or not etternavn or (middle and not mellom):
            return []
        sql = (
            f"SELECT * FROM kunder WHERE type = {PERSON} AND etternavn {IN_JSON} "
            f"AND fornavn {IN_JSON} AND "
        )
        params = [json_list(etternavn), json_list(fornavn)]
        if middle:
            sql += f"mellomnavn {IN_JSON}"
            params.append(json_list(mellom))
        else:
            sql += "mellomnavn IS NULL"
        return self._conn().execute(sql, params).fetchall()

    def _persons_by_parts(
        self, fornavn: str | None, mellomnavn: str | None, etternavn: str | None
    ) -> list[tuple[Any, ...]]:
        conditions: list[str] = []
        params: list[Any] = []
        for column, value, names in (
            ("etternavn", etternavn, self._etternavn),
            ("fornavn", fornavn, self._fornavn),
            ("mellomnavn", mellomnavn, self._etternavn),
        ):
            if value is None:
                continue
            ident = names.get(normalise_name(value))
            if ident is None:
                return []
            conditions.append(f"{column} = ?")
            params.append(ident)
        if not conditions:
            return []
        sql = f"SELECT * FROM kunder WHERE type = {PERSON} AND " + " AND ".join(conditions)
        return self._conn().execute(sql, params).fetchall()

    def _orgs_named(self, name: str, *, phonetic: bool) -> list[tuple[Any, ...]]:
        if phonetic:
            sql = f"SELECT * FROM kunder WHERE type = {ORGANISASJON} AND fonetisk = ?"
            return self._conn().execute(sql, (phonetic_key(name),)).fetchall()
        sql = f"SELECT * FROM kunder WHERE type = {ORGANISASJON} AND orgnavn = ?"
        return self._conn().execute(sql, (name,)).fetchall()

    def _post_filter(
        self,
        postnummer: str | None,
        poststed: str | None,
        fylke: str | None,
        kommune: str | None,
    ) -> set[int] | None:
        """Indexes of the postal areas matching all given filters, or None for no filter."""
        if postnummer is None and poststed is None and fylke is None and kommune is None:
            return None
        fylke_norm = normalise_name(fylke) if fylke else None
        kommune_norm = normalise_name(kommune) if kommune else None
        sted_norm = normalise_name(poststed) if poststed else None
        fylker = self._lookups.fylker
        result = set()
        for index, (nummer, sted, kommunenr, kommunenavn, fylkesnr) in enumerate(
            self._lookups.poststeder
        ):
            if postnummer is not None and nummer != postnummer.strip():
                continue
            if sted_norm is not None and sted != sted_norm:
                continue
            if kommune_norm is not None and kommune_norm not in (kommunenr, kommunenavn):
                continue
            if fylke_norm is not None and fylke_norm not in (fylkesnr, fylker.get(fylkesnr)):
                continue
            result.add(index)
        return result


def _born(row: tuple[Any, ...]) -> date | None:
    if row[1] != PERSON:
        return None
    return fodselsdato_from_fodselsnummer(f"{row[2]:011d}")


def _birth_matches(row: tuple[Any, ...], fodselsdato: str | None) -> bool:
    if fodselsdato is None:
        return True
    born = _born(row)
    if born is None:
        return False
    if len(fodselsdato) == 4:
        return str(born.year) == fodselsdato
    return born.isoformat() == fodselsdato

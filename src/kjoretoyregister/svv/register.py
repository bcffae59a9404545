# ruff: noqa: S608  (SQL text is built from this module's constants only; values are bound)
"""The SVV register: read-only queries on a register file, answered as v2 ``Kjoretoy`` JSON.

One :class:`Register` serves many threads: each thread gets its own read-only SQLite
connection (``mode=ro``); the small tables and the per-variant technical subtrees are loaded
once and shared. Bulk lookups are batched: a thousand plates cost a handful of queries
(plates → vehicles, plates, roles → role holders), then pure-Python assembly.

Search semantics (svv-api.md §2.2), all as of now:

- wholly withheld vehicles (``unntattOffentlighet`` EIERSKAP + TEKNISK_DATA) are never hits;
  vehicles whose ownership is withheld are hits for plate and VIN searches (without
  ``eierskap``) but never for searches by owner, so a search cannot reveal the owner;
- owner searches look at the current eier, medeier and leasingtaker;
- paging: ``fra`` is the 1-based first row, ``antall`` the number of rows; rows are ordered by
  plate, VIN or kuid so that pages are stable.
"""

from __future__ import annotations

import gc
import math
import random
import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import orjson

from kjoretoyregister.svv.identifiers import (
    fodselsdato_from_fodselsnummer,
    kjonn_from_fodselsnummer,
    normalise_kjennemerke,
)
from kjoretoyregister.svv.kjoretoy import (
    OSLO,
    KjoretoyBuilder,
    Lookups,
    Party,
    Variant,
    valid_at,
)
from kjoretoyregister.svv.persons import normalise_name, phonetic_key
from kjoretoyregister.svv.registerfile import (
    ETTERNAVN_BASE,
    ORGANISASJON,
    PERSON,
    PERSON_BASE,
    SCHEMA_VERSION,
    SKJERMING_HELT,
    SKJERMING_INGEN,
)

T = TypeVar("T")

_VEHICLE_COLUMNS = (
    "kuid, vin, variant, farge, forstereg, status, status_fom, avreg_fom, avreg_tom, art, "
    "skjerming, flagg, imid"
)
_IN_JSON = "IN (SELECT value FROM json_each(?))"
# VRAKET and UTFORT (kodeverk status numbers 2 and 3) are left out on request.
_NOT_SCRAPPED = " AND v.status < 2"
_OWNED = (
    "FROM eierskap e JOIN kjoretoy v ON v.kuid = e.kuid "
    f"WHERE e.kunde {_IN_JSON} AND e.tom IS NULL AND e.rolle < 3 AND v.skjerming = 0"
)


# Small on purpose: every cached dict is scanned by Python's full garbage collections.
_PARTY_CACHE_SIZE = 20_000
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


@dataclass(frozen=True, slots=True)
class _VehicleData:
    vehicle: tuple[Any, ...]
    plates: list[tuple[Any, ...]]
    roles: list[tuple[Any, ...]]


def _json_list(values: Iterable[Any]) -> str:
    return orjson.dumps(list(values)).decode()


def _epoch(dtg: datetime | None) -> float | None:
    """Unix seconds of a dtg, to the millisecond (the register's finest time)."""
    if dtg is None:
        return None
    if dtg.tzinfo is None:
        dtg = dtg.replace(tzinfo=OSLO)
    seconds = dtg.timestamp()
    return int(seconds) if seconds.is_integer() else math.floor(seconds * 1000) / 1000


def _check_paging(fra: int, antall: int) -> None:
    if fra < 1 or antall < 1:
        raise ValueError("fra and antall must be at least 1")


class Register:
    """Read-only access to a register file made by ``svv generate`` (thread-safe).

    Opening it calls :func:`gc.freeze` once: the objects alive then (the register's lookup
    tables and whatever the process already holds) are left out of later full garbage
    collections, which otherwise dominate the tail latency of bulk lookups.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise RegisterError(f"no register file at {path}")
        self._uri = path.resolve().as_uri() + "?mode=ro"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            conn = self._conn()
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise RegisterError(f"{path} is not a register file ({exc})") from None
        self.meta: dict[str, Any] = {key: orjson.loads(value) for key, value in rows}
        if self.meta.get("schema_version") != SCHEMA_VERSION:
            self.close()
            raise RegisterError(
                f"{path} has schema version {self.meta.get('schema_version')}, "
                f"expected {SCHEMA_VERSION}: generate it again"
            )
        try:
            self._lookups = _load_lookups(conn, self.meta)
        except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
            self.close()
            raise RegisterError(f"{path} is not a complete register file ({exc})") from None
        self._builder = KjoretoyBuilder(self._lookups)
        self._party_cache: dict[int, Party] = {}
        self._fornavn, self._fornavn_sound = _name_maps(self._lookups.navn, "F")
        self._etternavn, self._etternavn_sound = _name_maps(self._lookups.navn, "E")
        self._by_merkekode: dict[str, list[int]] = {}
        for index, variant in enumerate(self._lookups.variants):
            self._by_merkekode.setdefault(variant.merkekode, []).append(index)
        # A bulk answer allocates ~50,000 dicts, enough to trigger full garbage collections,
        # and each would walk every long-lived object (the catalogue's technical subtrees,
        # names, the server's own state). Freezing what exists now keeps those walks short:
        # p50 of a 1,000-plate lookup drops by about a fifth, and the tail more.
        gc.freeze()

    # --- connections ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise RegisterError("the register is closed")
            try:
                conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            except sqlite3.Error as exc:
                raise RegisterError(f"cannot open the register ({exc})") from None
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA cache_size = -65536")
            conn.execute("PRAGMA mmap_size = 4294967296")
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every thread's connection; the register cannot be used afterwards."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # --- bulk lookups --------------------------------------------------------------------

    def by_kjennemerke(self, kjennemerke: str, dtg: datetime | None) -> list[VehicleResult]:
        """The vehicle carrying this plate at ``dtg`` (None = now); [] if none."""
        return self.many_by_kjennemerke([(kjennemerke, dtg)])[0]

    def by_kuid(self, kuid: str, dtg: datetime | None) -> list[VehicleResult]:
        """The vehicle with this kuid as of ``dtg``; [] if unknown or not yet registered."""
        return self.many_by_kuid([(kuid, dtg)])[0]

    def by_understellsnummer(
        self, understellsnummer: str, dtg: datetime | None
    ) -> list[VehicleResult]:
        """Every vehicle with this VIN (one VIN can belong to two vehicles) as of ``dtg``."""
        conn = self._conn()
        kuids = [
            row[0]
            for row in conn.execute(
                "SELECT kuid FROM kjoretoy WHERE vin = ? ORDER BY kuid",
                (understellsnummer.strip().upper(),),
            )
        ]
        t = _epoch(dtg)
        built = self._build(conn, [(kuid, t) for kuid in kuids])
        return [result for result in built if result is not None]

    def many_by_kjennemerke(
        self, items: Sequence[tuple[str, datetime | None]]
    ) -> list[list[VehicleResult]]:
        """:meth:`by_kjennemerke` for many items at once, in request order."""
        conn = self._conn()
        wanted = [(normalise_kjennemerke(plate), _epoch(dtg)) for plate, dtg in items]
        holders: dict[str, list[tuple[int, float, float | None]]] = {}
        plates = sorted({plate for plate, _ in wanted if plate})
        if plates:
            sql = (
                f"SELECT kjennemerke, kuid, fom, tom FROM kjennemerker WHERE kjennemerke {_IN_JSON}"
            )
            for plate, kuid, fom, tom in conn.execute(sql, (_json_list(plates),)):
                holders.setdefault(plate, []).append((kuid, fom, tom))
        per_item: list[list[int]] = []
        for plate, t in wanted:
            kuids: list[int] = []
            for kuid, fom, tom in holders.get(plate, ()):
                if valid_at(fom, tom, t) and kuid not in kuids:
                    kuids.append(kuid)
            per_item.append(kuids)
        return self._assemble(conn, wanted, per_item)

    def many_by_kuid(
        self, items: Sequence[tuple[str, datetime | None]]
    ) -> list[list[VehicleResult]]:
        """:meth:`by_kuid` for many items at once, in request order."""
        conn = self._conn()
        wanted = [(kuid.strip(), _epoch(dtg)) for kuid, dtg in items]
        per_item = [[int(kuid)] if kuid.isdigit() and len(kuid) <= 18 else [] for kuid, _ in wanted]
        return self._assemble(conn, wanted, per_item)

    def _assemble(
        self,
        conn: sqlite3.Connection,
        wanted: list[tuple[str, float | None]],
        per_item: list[list[int]],
    ) -> list[list[VehicleResult]]:
        pairs: dict[tuple[int, float | None], None] = {}
        for (_, t), kuids in zip(wanted, per_item, strict=True):
            for kuid in kuids:
                pairs[(kuid, t)] = None
        keys = list(pairs)
        built = dict(zip(keys, self._build(conn, keys), strict=True))
        answers: list[list[VehicleResult]] = []
        for (_, t), kuids in zip(wanted, per_item, strict=True):
            found = [built[(kuid, t)] for kuid in kuids]
            answers.append([result for result in found if result is not None])
        return answers

    # --- assembly ----------------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, kuids: Collection[int]) -> dict[int, _VehicleData]:
        if not kuids:
            return {}
        ids = _json_list(kuids)
        data: dict[int, _VehicleData] = {}
        for row in conn.execute(
            f"SELECT {_VEHICLE_COLUMNS} FROM kjoretoy WHERE kuid {_IN_JSON}", (ids,)
        ):
            data[row[0]] = _VehicleData(row, [], [])
        for row in conn.execute(
            f"SELECT kuid, fom, kjennemerke, tom, kategori FROM kjennemerker WHERE kuid {_IN_JSON}",
            (ids,),
        ):
            data[row[0]].plates.append(row)
        for row in conn.execute(
            f"SELECT kuid, rolle, fom, tom, kunde FROM eierskap WHERE kuid {_IN_JSON}", (ids,)
        ):
            data[row[0]].roles.append(row)
        return data

    def _parties(self, conn: sqlite3.Connection, ids: Collection[int]) -> dict[int, Party]:
        # Role holders repeat (leasing companies, dealers, fleets): keep the built ones. The
        # file is read-only, so a cached Party never goes stale; the cache is cleared when full.
        cache = self._party_cache
        found: dict[int, Party] = {}
        missing: list[int] = []
        for kunde in ids:
            party = cache.get(kunde)  # one lookup: another thread may clear the cache
            if party is None:
                missing.append(kunde)
            else:
                found[kunde] = party
        if missing:
            builder = self._builder
            sql = f"SELECT * FROM kunder WHERE id {_IN_JSON}"
            for row in conn.execute(sql, (_json_list(missing),)):
                found[row[0]] = builder.party(row)
            if len(cache) > _PARTY_CACHE_SIZE:
                cache.clear()
            cache.update((kunde, found[kunde]) for kunde in missing if kunde in found)
        return found

    def _build(
        self, conn: sqlite3.Connection, wanted: Sequence[tuple[int, float | None]]
    ) -> list[VehicleResult | None]:
        """Results for (kuid, dtg) pairs, None where no vehicle (yet) exists."""
        data = self._load(conn, {kuid for kuid, _ in wanted})
        needed: set[int] = set()
        for kuid, t in wanted:
            found = data.get(kuid)
            if found is None or found.vehicle[10] != SKJERMING_INGEN:
                continue
            for role in found.roles:
                if valid_at(role[2], role[3], t):
                    needed.add(role[4])
        parties = self._parties(conn, needed)
        builder = self._builder
        results: list[VehicleResult | None] = []
        for kuid, t in wanted:
            found = data.get(kuid)
            if found is None or (t is not None and t < found.vehicle[4]):
                results.append(None)
            elif found.vehicle[10] == SKJERMING_HELT:
                results.append(VehicleResult(builder.hidden(found.vehicle, found.plates, t), True))
            else:
                kjoretoy = builder.build(found.vehicle, found.plates, found.roles, parties, t)
                results.append(None if kjoretoy is None else VehicleResult(kjoretoy, False))
        return results

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
            base += f" AND v.variant {_IN_JSON}"
            params.append(_json_list(self._by_merkekode.get(merkekode.zfill(4), [])))
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
        base = _OWNED + (_NOT_SCRAPPED if ekskluder else "")
        return self._vehicle_page(
            self._conn(),
            f"SELECT count(DISTINCT e.kuid) {base}",
            f"SELECT DISTINCT e.kuid {base} ORDER BY e.kuid",
            [_json_list(kunder)],
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
                f"SELECT count(DISTINCT e.kuid) {_OWNED}", (_json_list([row[0]]),)
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
            f"SELECT * FROM kunder WHERE type = {PERSON} AND etternavn {_IN_JSON} "
            f"AND fornavn {_IN_JSON} AND "
        )
        params = [_json_list(etternavn), _json_list(fornavn)]
        if middle:
            sql += f"mellomnavn {_IN_JSON}"
            params.append(_json_list(mellom))
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

    # --- samples for tests, demos and benchmarks -----------------------------------------

    def sample_kjennemerker(self, n: int, seed: int = 0) -> list[str]:
        """``n`` distinct current plates of visible vehicles (normalised), deterministic."""
        conn = self._conn()
        rng = random.Random(seed)  # noqa: S311 - a sample, not a secret
        vehicles = int(self.meta.get("vehicles", 0))
        sql = (
            "SELECT k.kuid, k.kjennemerke FROM kjennemerker k JOIN kjoretoy v ON v.kuid = k.kuid "
            f"WHERE k.tom IS NULL AND k.kategori = 0 AND v.skjerming < {SKJERMING_HELT}"
        )
        if vehicles < 200_000:
            plates = [row[1] for row in conn.execute(sql + " ORDER BY k.kjennemerke")]
            return rng.sample(plates, min(n, len(plates)))
        base, stride = int(self.meta["kuid_base"]), int(self.meta["kuid_stride"])
        found: dict[str, None] = {}
        for _ in range(50):
            if len(found) >= n:
                break
            picks = [
                base + stride * rng.randrange(vehicles) for _ in range(2 * (n - len(found)) + 8)
            ]
            plate_of = dict(conn.execute(sql + f" AND k.kuid {_IN_JSON}", (_json_list(picks),)))
            for kuid in picks:
                plate = plate_of.get(kuid)
                if plate is not None and len(found) < n:
                    found[plate] = None
        return list(found)

    def sample_persons(self, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """``n`` persons who currently own, co-own or lease a visible vehicle, deterministic.

        Each is ``{"kundeId", "fodselsnummer", "fornavn", ["mellomnavn"], "etternavn", "navn",
        "fodselsdato", "postnummer", "poststed"}``.
        """
        conn = self._conn()
        rng = random.Random(seed)  # noqa: S311 - a sample, not a secret
        persons = int(self.meta.get("persons", 0))
        sql = (
            f"SELECT * FROM kunder k WHERE k.id {_IN_JSON} AND EXISTS (SELECT 1 FROM eierskap e "
            "JOIN kjoretoy v ON v.kuid = e.kuid WHERE e.kunde = k.id AND e.tom IS NULL "
            "AND e.rolle < 3 AND v.skjerming = 0)"
        )
        found: dict[int, tuple[Any, ...]] = {}
        for _ in range(50):
            if len(found) >= n or persons == 0:
                break
            picks = [PERSON_BASE + rng.randrange(persons) for _ in range(3 * (n - len(found)) + 8)]
            rows = {row[0]: row for row in conn.execute(sql, (_json_list(picks),))}
            for kunde in picks:
                if kunde in rows and len(found) < n:
                    found[kunde] = rows[kunde]
        return [self._person_summary(row) for row in found.values()]

    def _person_summary(self, row: tuple[Any, ...]) -> dict[str, Any]:
        navn = self._lookups.navn
        fnr = f"{row[2]:011d}"
        parts = [navn[row[3]]] + ([navn[row[4]]] if row[4] else []) + [navn[row[5]]]
        post = self._lookups.poststeder[row[10]]
        summary: dict[str, Any] = {
            "kundeId": str(row[0]),
            "fodselsnummer": fnr,
            "fornavn": navn[row[3]],
            "etternavn": navn[row[5]],
            "navn": " ".join(parts),
            "postnummer": post[0],
            "poststed": post[1],
        }
        if row[4]:
            summary["mellomnavn"] = navn[row[4]]
        born = fodselsdato_from_fodselsnummer(fnr)
        if born is not None:
            summary["fodselsdato"] = born.isoformat()
        return summary


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


def _name_maps(navn: dict[int, str], liste: str) -> tuple[dict[str, int], dict[str, list[int]]]:
    exact: dict[str, int] = {}
    sound: dict[str, list[int]] = {}
    for ident, name in navn.items():
        is_etternavn = ident > ETTERNAVN_BASE
        if (liste == "E") != is_etternavn:
            continue
        exact.setdefault(name, ident)
        sound.setdefault(phonetic_key(name), []).append(ident)
    return exact, sound


def _load_lookups(conn: sqlite3.Connection, meta: dict[str, Any]) -> Lookups:
    variants = []
    for merkekode, klasse, data in conn.execute(
        "SELECT merkekode, klasse, data FROM modellvarianter ORDER BY id"
    ):
        parsed = orjson.loads(data)
        variants.append(
            Variant(
                merkekode=merkekode,
                klasse=klasse,
                undertype=parsed["godkjenningsundertype"],
                klassifisering=parsed["kjoretoyklassifisering"],
                tekniske_data=parsed["tekniskeData"],
                fixed=bool(parsed.get("fast", False)),
            )
        )
    return Lookups(
        navn=dict(conn.execute("SELECT id, navn FROM navn").fetchall()),
        gater=[row[0] for row in conn.execute("SELECT navn FROM gatenavn ORDER BY id")],
        poststeder=[
            tuple(row)
            for row in conn.execute(
                "SELECT postnummer, poststed, kommunenummer, kommunenavn, fylkesnummer "
                "FROM poststeder ORDER BY id"
            )
        ],
        fylker=dict(conn.execute("SELECT nummer, navn FROM fylker").fetchall()),
        naering=[
            (row[0], row[1])
            for row in conn.execute("SELECT kode, beskrivelse FROM naeringskoder ORDER BY id")
        ],
        farger=[
            orjson.loads(row[0]) for row in conn.execute("SELECT data FROM farger ORDER BY id")
        ],
        variants=variants,
        as_of=math.floor(datetime.fromisoformat(meta["as_of"]).timestamp()),
        adresser={
            kunde: orjson.loads(data)
            for kunde, data in conn.execute("SELECT kunde, data FROM kundeadresser")
        },
        fastdata={
            kuid: orjson.loads(data)
            for kuid, data in conn.execute("SELECT kuid, data FROM fastdata")
        },
    )

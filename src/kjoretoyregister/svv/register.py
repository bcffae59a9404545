# ruff: noqa: S608  (SQL text is built from this module's constants only; values are bound)
"""The SVV register: read-only queries on a register file, answered as v2 ``Kjoretoy`` JSON.

One :class:`Register` serves many threads: each thread gets its own read-only SQLite
connection (``mode=ro``); the small tables and the per-variant technical subtrees are loaded
once and shared. Bulk lookups are batched: a thousand plates cost a handful of queries
(plates → vehicles, plates, roles → role holders), then pure-Python assembly. The searches
(Kjøretøysøk) are in :mod:`.register_search`.
"""

from __future__ import annotations

import gc
import math
import random
import sqlite3
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from kjoretoyregister.svv.gcpause import gc_paused
from kjoretoyregister.svv.identifiers import (
    fodselsdato_from_fodselsnummer,
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
from kjoretoyregister.svv.persons import phonetic_key
from kjoretoyregister.svv.register_search import (
    IN_JSON,
    Page,
    RegisterError,
    RegisterSearches,
    VehicleResult,
    json_list,
)
from kjoretoyregister.svv.registerfile import (
    ETTERNAVN_BASE,
    PERSON_BASE,
    SCHEMA_VERSION,
    SKJERMING_HELT,
    SKJERMING_INGEN,
)

__all__ = ["Page", "Register", "RegisterError", "VehicleResult"]

_VEHICLE_COLUMNS = (
    "kuid, vin, variant, farge, forstereg, status, status_fom, avreg_fom, avreg_tom, art, "
    "skjerming, flagg, imid"
)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Small on purpose: every cached dict is scanned by Python's full garbage collections.
_PARTY_CACHE_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class _VehicleData:
    vehicle: tuple[Any, ...]
    plates: list[tuple[Any, ...]]
    roles: list[tuple[Any, ...]]


def _epoch(dtg: datetime | None) -> float | None:
    """Unix seconds of a dtg, to the millisecond (the register's finest time)."""
    if dtg is None:
        return None
    if dtg.tzinfo is None:
        dtg = dtg.replace(tzinfo=OSLO)
    millis = (dtg - _UNIX_EPOCH) // timedelta(milliseconds=1)  # exact, rounded down
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


class Register(RegisterSearches):
    """Read-only access to a register file made by ``svv generate`` (thread-safe).

    Opening it calls :func:`gc.freeze` once: the objects alive then (the register's lookup
    tables and whatever the process already holds) are left out of later full garbage
    collections, which otherwise dominate the tail latency of bulk lookups.

    Results are JSON-ready, but a generated vehicle's ``tekniskeData`` is pre-serialised (an
    ``orjson.Fragment``): to read it in-process, take :func:`.kjoretoy.plain` of the result.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise RegisterError(f"no register file at {path}")
        self.path = path
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
                f"SELECT kjennemerke, kuid, fom, tom FROM kjennemerker WHERE kjennemerke {IN_JSON}"
            )
            for plate, kuid, fom, tom in conn.execute(sql, (json_list(plates),)):
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
        ids = json_list(kuids)
        data: dict[int, _VehicleData] = {}
        for row in conn.execute(
            f"SELECT {_VEHICLE_COLUMNS} FROM kjoretoy WHERE kuid {IN_JSON}", (ids,)
        ):
            data[row[0]] = _VehicleData(row, [], [])
        for row in conn.execute(
            f"SELECT kuid, fom, kjennemerke, tom, kategori FROM kjennemerker WHERE kuid {IN_JSON}",
            (ids,),
        ):
            data[row[0]].plates.append(row)
        for row in conn.execute(
            f"SELECT kuid, rolle, fom, tom, kunde FROM eierskap WHERE kuid {IN_JSON}", (ids,)
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
            sql = f"SELECT * FROM kunder WHERE id {IN_JSON}"
            for row in conn.execute(sql, (json_list(missing),)):
                found[row[0]] = builder.party(row)
            if len(cache) > _PARTY_CACHE_SIZE:
                cache.clear()
            cache.update((kunde, found[kunde]) for kunde in missing if kunde in found)
        return found

    def _build(
        self, conn: sqlite3.Connection, wanted: Sequence[tuple[int, float | None]]
    ) -> list[VehicleResult | None]:
        """Results for (kuid, dtg) pairs, None where no vehicle (yet) exists."""
        with gc_paused():
            return self._build_unpaused(conn, wanted)

    def _build_unpaused(
        self, conn: sqlite3.Connection, wanted: Sequence[tuple[int, float | None]]
    ) -> list[VehicleResult | None]:
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
            plate_of = dict(conn.execute(sql + f" AND k.kuid {IN_JSON}", (json_list(picks),)))
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
            f"SELECT * FROM kunder k WHERE k.id {IN_JSON} AND EXISTS (SELECT 1 FROM eierskap e "
            "JOIN kjoretoy v ON v.kuid = e.kuid WHERE e.kunde = k.id AND e.tom IS NULL "
            "AND e.rolle < 3 AND v.skjerming = 0)"
        )
        found: dict[int, tuple[Any, ...]] = {}
        for _ in range(50):
            if len(found) >= n or persons == 0:
                break
            picks = [PERSON_BASE + rng.randrange(persons) for _ in range(3 * (n - len(found)) + 8)]
            rows = {row[0]: row for row in conn.execute(sql, (json_list(picks),))}
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
                krav=parsed.get("krav", []),
                merknader=parsed.get("kjoretoymerknad", []),
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

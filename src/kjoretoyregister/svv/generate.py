"""``svv generate``: write a deterministic synthetic register file.

The same seed and size give the same data (only ``meta.generated_at`` differs). The work is
cut into chunks, each with its own random stream (``random.Random("<seed>/<what>/<chunk>")``),
so chunks can run in a pool of processes and still be inserted in one fixed order. The parent
process is the single SQLite writer: journal off, synchronous off, a large page cache, rows in
big ``executemany`` batches in primary-key order, and the indexes built only at the end.

The sisdinky vehicles (:mod:`.sisdinky`) are added to every register with their published
identities.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

from kjoretoyregister.svv import kodeverk, sisdinky, sisdinky_rows
from kjoretoyregister.svv.addresses import FYLKER, POSTSTEDER, STREETS
from kjoretoyregister.svv.catalog import VARIANTS
from kjoretoyregister.svv.fleet import FleetPlan, fleet_chunk
from kjoretoyregister.svv.persons import ETTERNAVN, FORNAVN, NAERINGSKODER
from kjoretoyregister.svv.population import (
    FLEET_ORGS,
    max_persons,
    orgs_chunk,
    persons_chunk,
)
from kjoretoyregister.svv.registerfile import (
    ETTERNAVN_BASE,
    INDEXES,
    KUID_BASE,
    KUID_STRIDE,
    SCHEMA_VERSION,
    TABLES,
)
from kjoretoyregister.svv.teknisk import variant_data

# The register's "now": histories end before it. Fixed, so that a seed always gives the same
# data; `--as-of` moves it.
DEFAULT_AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
MAX_VEHICLES = 7_000_000
VEHICLE_CHUNK = 50_000
KUNDE_CHUNK = 100_000
# Below this size a process pool costs more than it saves.
PARALLEL_FROM = 150_000

_INSERT = {
    "kunder": "INSERT INTO kunder VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "kjoretoy": "INSERT INTO kjoretoy VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "kjennemerker": "INSERT INTO kjennemerker VALUES (?,?,?,?,?)",
    "eierskap": "INSERT INTO eierskap VALUES (?,?,?,?,?)",
    "kundeadresser": "INSERT INTO kundeadresser VALUES (?,?)",
    "fastdata": "INSERT INTO fastdata VALUES (?,?)",
}


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and chunks of one generation run."""

    seed: int
    vehicles: int
    persons: int
    orgs: int
    as_of: int
    # Chunk sizes are part of the plan: plate slices depend on the number of chunks, so the
    # data depend on them (they are fixed; tests shrink them to exercise the pool cheaply).
    vehicle_chunk: int = VEHICLE_CHUNK
    kunde_chunk: int = KUNDE_CHUNK

    @classmethod
    def make(cls, vehicles: int, seed: int, as_of: datetime) -> Plan:
        persons = min(vehicles // 2 + 200, max_persons())
        orgs = max(FLEET_ORGS + 20, vehicles // 25)
        return cls(seed, vehicles, persons, orgs, int(as_of.timestamp()))

    @property
    def fleet(self) -> FleetPlan:
        chunks = max(1, -(-self.vehicles // self.vehicle_chunk))
        return FleetPlan(self.seed, self.vehicles, self.persons, self.orgs, self.as_of, chunks)

    def tasks(self) -> Iterator[tuple[str, int, int, int]]:
        """(kind, chunk, first index, count) in insertion order."""
        for kind, total, size in (
            ("personer", self.persons, self.kunde_chunk),
            ("organisasjoner", self.orgs, self.kunde_chunk),
            ("kjoretoy", self.vehicles, self.vehicle_chunk),
        ):
            for chunk, start in enumerate(range(0, total, size)):
                yield kind, chunk, start, min(size, total - start)


Task = tuple[str, int, int, int]
Rows = dict[str, list[tuple[Any, ...]]]
_TABLES_OF = {
    "personer": ("kunder",),
    "organisasjoner": ("kunder",),
    "kjoretoy": ("kjoretoy", "kjennemerker", "eierskap"),
}


def chunk_rows(plan: Plan, task: Task) -> Rows:
    """The rows of one chunk, by table, in primary-key order."""
    kind, chunk, start, count = task
    if kind == "personer":
        return {"kunder": persons_chunk(plan.seed, chunk, start, count)}
    if kind == "organisasjoner":
        return {"kunder": orgs_chunk(plan.seed, chunk, start, count)}
    fleet = fleet_chunk(plan.fleet, chunk, start, count)
    return {
        "kjoretoy": fleet.kjoretoy,
        "kjennemerker": fleet.kjennemerker,
        "eierskap": fleet.eierskap,
    }


def _insert_rows(conn: sqlite3.Connection, rows: Rows) -> int:
    """Insert a chunk's rows; returns how many vehicles or kunder it held (for progress)."""
    for table, table_rows in rows.items():
        conn.executemany(_INSERT[table], table_rows)
    return len(rows["kjoretoy"] if "kjoretoy" in rows else rows["kunder"])


def _write_chunk_file(plan: Plan, task: Task, directory: str) -> tuple[str, str, int]:
    """In a worker: make a chunk and write it to its own SQLite file (kind, path, count).

    Encoding rows into SQLite records is most of the writer's work; done here it runs in
    parallel, and the writer only copies records from file to file in C.
    """
    path = str(Path(directory) / f"{task[0]}-{task[1]:05d}.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "locking_mode = EXCLUSIVE"):
            conn.execute(f"PRAGMA {pragma}")
        conn.executescript(TABLES)
        conn.execute("BEGIN")
        count = _insert_rows(conn, chunk_rows(plan, task))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return task[0], path, count


class _Progress:
    """A rich progress display, or nothing."""

    def __init__(self, enabled: bool, plan: Plan) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._tasks["personer"] = self._bar.add_task("Personer", total=plan.persons)
        self._tasks["organisasjoner"] = self._bar.add_task("Organisasjoner", total=plan.orgs)
        self._tasks["kjoretoy"] = self._bar.add_task("Kjøretøy", total=plan.vehicles)
        self._tasks["indekser"] = self._bar.add_task("Indekser", total=len(INDEXES) + 1)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, what: str, amount: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._tasks[what], amount)


def generate(
    path: Path,
    *,
    vehicles: int,
    seed: int,
    progress: bool = False,
    workers: int | None = None,
    as_of: datetime | None = None,
    chunk_sizes: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Write a synthetic register with ``vehicles`` generated vehicles plus the sisdinky ones.

    Args:
        path: the register file to write (replaced atomically when done).
        vehicles: how many vehicles to generate, 0 … 7,000,000.
        seed: the random seed; the same seed and size give the same data.
        progress: show a rich progress bar on the terminal.
        workers: processes for generation (default: up to 2, in-process for small registers).
        as_of: the register's "now" (default :data:`DEFAULT_AS_OF`).
        chunk_sizes: (vehicles, kunder) per chunk; for tests only: plate number slices are
            cut per chunk, so other sizes give other (equally valid) data.

    Returns:
        The register's meta: schema_version, seed, vehicles, persons, organisations,
        sisdinky, as_of, generated_at; plus ``phase_seconds`` (wall time per phase of the
        writer: waiting for rows, inserting rows, building indexes), which is not stored.
    """
    if not 0 <= vehicles <= MAX_VEHICLES:
        raise ValueError(f"vehicles must be between 0 and {MAX_VEHICLES:,}")
    when = as_of or DEFAULT_AS_OF
    if when.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    plan = Plan.make(vehicles, seed, when)
    if chunk_sizes is not None:
        plan = replace(plan, vehicle_chunk=chunk_sizes[0], kunde_chunk=chunk_sizes[1])
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if vehicles >= PARALLEL_FROM else 0
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    chunk_dir = Path(tempfile.mkdtemp(prefix=".svv-chunks-", dir=path.parent))
    try:
        _writer_pragmas(conn)
        conn.executescript(TABLES)
        conn.execute("BEGIN")
        _write_lookup_tables(conn)
        conn.execute("COMMIT")
        clock = _Clock()
        with _Progress(progress, plan) as bar:
            _load_rows(conn, plan, workers, chunk_dir, bar, clock)
            conn.execute("BEGIN")
            for table, table_rows in sisdinky_rows.rows().items():
                conn.executemany(_INSERT[table], table_rows)
            conn.execute("COMMIT")
            clock.lap("inserting rows")
            for _, ddl in INDEXES:
                conn.execute(ddl)
                bar.advance("indekser", 1)
            conn.execute("PRAGMA analysis_limit = 1000")
            conn.execute("ANALYZE")
            clock.lap("building indexes")
            meta = {
                "schema_version": SCHEMA_VERSION,
                "seed": seed,
                "vehicles": vehicles,
                "persons": plan.persons,
                "organisations": plan.orgs,
                "sisdinky": len(sisdinky.VEHICLES),
                "as_of": datetime.fromtimestamp(plan.as_of, UTC).isoformat(),
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "kuid_base": KUID_BASE,
                "kuid_stride": KUID_STRIDE,
            }
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [(key, orjson.dumps(value).decode()) for key, value in meta.items()],
            )
            bar.advance("indekser", 1)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)  # never leave half a register behind
        raise
    finally:
        conn.close()
        shutil.rmtree(chunk_dir, ignore_errors=True)
    os.replace(tmp, path)
    # Where the time went (not stored: it is not part of the data).
    return {**meta, "phase_seconds": clock.laps}


class _Clock:
    """Wall time per phase of the writer process."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = round(self.laps.get(phase, 0.0) + now - self._last, 2)
        self._last = now


def _writer_pragmas(conn: sqlite3.Connection) -> None:
    # A crash leaves a half-written .tmp that is thrown away, so durability buys nothing here.
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "locking_mode = EXCLUSIVE",
        "cache_size = -1000000",
        "temp_store = FILE",
        "threads = 2",
    ):
        conn.execute(f"PRAGMA {pragma}")


def _load_rows(
    conn: sqlite3.Connection,
    plan: Plan,
    workers: int,
    directory: Path,
    bar: _Progress,
    clock: _Clock,
) -> None:
    """Fill the big tables, chunk after chunk in task order (the data do not depend on how)."""
    if workers <= 0:
        conn.execute("BEGIN")
        for task in plan.tasks():
            rows = chunk_rows(plan, task)
            clock.lap("making rows")
            bar.advance(task[0], _insert_rows(conn, rows))
            clock.lap("inserting rows")
        conn.execute("COMMIT")
        return
    tasks = iter(plan.tasks())
    # spawn, not fork: the parent may run rich's refresh thread, and forking threads is unsafe.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as executor:
        pending: deque[Future[tuple[str, str, int]]] = deque()

        def submit() -> None:
            task = next(tasks, None)
            if task is not None:
                pending.append(executor.submit(_write_chunk_file, plan, task, str(directory)))

        # A bounded window: a few chunk files ahead of the writer at most.
        for _ in range(workers + 2):
            submit()
        while pending:
            kind, path, count = pending.popleft().result()
            submit()
            clock.lap("waiting for rows")
            conn.execute("ATTACH DATABASE ? AS chunk", (path,))
            conn.execute("BEGIN")
            for table in _TABLES_OF[kind]:
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM chunk.{table}")  # noqa: S608
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE chunk")
            os.unlink(path)
            bar.advance(kind, count)
            clock.lap("inserting rows")


def _write_lookup_tables(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO fylker VALUES (?, ?)", sorted(FYLKER.items()))
    extra = sisdinky_rows.lookups()  # after the generator's own entries
    conn.executemany(
        "INSERT INTO poststeder VALUES (?, ?, ?, ?, ?, ?)",
        [
            (i, p.postnummer, p.poststed, p.kommunenummer, p.kommunenavn, p.fylkesnummer)
            for i, p in enumerate(POSTSTEDER)
        ]
        + extra.poststeder,
    )
    conn.executemany("INSERT INTO gatenavn VALUES (?, ?)", list(enumerate(STREETS)))
    conn.executemany(
        "INSERT INTO navn VALUES (?, ?, ?)",
        [(i + 1, "F", n) for i, n in enumerate(FORNAVN)]
        + [(ETTERNAVN_BASE + i + 1, "E", n) for i, n in enumerate(ETTERNAVN)]
        + extra.navn,
    )
    conn.executemany(
        "INSERT INTO naeringskoder VALUES (?, ?, ?)",
        [(i, kode, tekst) for i, (kode, tekst) in enumerate(NAERINGSKODER)] + extra.naeringskoder,
    )
    conn.executemany(
        "INSERT INTO farger VALUES (?, ?)",
        [(i, orjson.dumps(f).decode()) for i, f in enumerate(kodeverk.FARGER)],
    )
    conn.executemany(
        "INSERT INTO modellvarianter VALUES (?, ?, ?, ?)",
        [
            (v.id, v.model.merkekode, v.model.klasse, orjson.dumps(variant_data(v)).decode())
            for v in VARIANTS
        ]
        + extra.modellvarianter,
    )

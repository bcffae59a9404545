"""The durable audit sink: grouped commits onto the hash chain, failing closed.

Flow: ``record(event)`` puts the event and a future on a bounded queue and waits on the
future. One writer task takes whatever is queued (up to ``batch_max``), and one writer thread
encodes it (pseudonyms, sealing), locks the chain head, appends, and commits it all in **one**
transaction. Only then are the callers' futures resolved; if the commit fails every caller of
that batch gets :class:`AuditUnavailable` (the gateway answers 503, no data). While a commit
runs, the next batch gathers in the queue, so throughput grows with concurrency while each
request still waits for its own commit.

The chain lock is the database's, so several gateway instances (several sinks, several
engines) append to one linear chain: PostgreSQL ``SELECT … FOR UPDATE`` on the head row,
SQLite ``BEGIN IMMEDIATE`` (every write transaction of :func:`store.db.make_engine`).

With an anchor key and file, the writer also signs the head after a commit at most every
``anchor_interval_s`` (:mod:`~kjoretoyregister.audit.anchors`), in a thread of its own: no
request waits for it, and the commit thread is never busy with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import time as _time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import Connection, Engine, Table, insert, select, update

from kjoretoyregister.audit import chain, walcheckpoint
from kjoretoyregister.audit.anchor_schedule import PeriodicAnchors
from kjoretoyregister.audit.events import AuditEvent, AuditUnavailable
from kjoretoyregister.audit.models import (
    ACCESS,
    LOOKUP,
    REQUESTED,
    RETURNED,
    AuditChainHead,
    AuditCheckpoint,
    AuditEntry,
    AuditItem,
    AuditSubject,
)
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.walcheckpoint import WalCheckpointer
from kjoretoyregister.config import Settings
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import make_engine, upgrade, utcnow

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = get_logger(__name__)

# Core tables: the writer inserts in bulk (executemany), which the ORM unit of work would slow.
_ENTRY = cast(Table, AuditEntry.__table__)
_ITEM = cast(Table, AuditItem.__table__)
_SUBJECT = cast(Table, AuditSubject.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)
_CHECKPOINT = cast(Table, AuditCheckpoint.__table__)


@dataclass(slots=True)
class Pending:
    """An entry ready to be chained: its columns, item rows and subject rows (no seq yet)."""

    entry: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    subjects: list[tuple[int, str, str]] = field(default_factory=list)


def _cut(value: str | None, limit: int) -> str | None:
    # Columns have lengths; PostgreSQL would refuse a longer value and fail the whole batch.
    return None if value is None else value[:limit]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _blank_entry(kind: str, when: datetime, correlation_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(chain.STORED_FIELDS)
    entry.update(kind=kind, time=_aware(when), correlation_id=correlation_id[:64], item_count=0)
    return entry


def encode_event(event: AuditEvent, pz: Pseudonymizer) -> Pending:
    """Turn a gateway event into rows: identifiers sealed, subjects pseudonymised."""
    entry = _blank_entry(LOOKUP, event.time, event.correlation_id)
    entry.update(
        fiks_org_id=_cut(event.fiks_org_id, 64),
        integrasjon_id=_cut(event.integrasjon_id, 64),
        consumer_orgnr=_cut(event.consumer_orgnr, 16),
        supplier_orgnr=_cut(event.supplier_orgnr, 16),
        client_id=_cut(event.client_id, 200),
        endpoint=_cut(event.endpoint, 200),
        method=_cut(event.method, 10),
        svv_status=event.svv_status,
        svvguid=_cut(event.svvguid, 100),
        latency_us=round(event.latency_ms * 1000),
        purpose=_cut(event.purpose, 500),
        case_reference=_cut(event.case_reference, 200),
        http_status=event.http_status,
        item_count=len(event.items),
        # A person acting through the portal ("person:<pseudonym>"); None for systems.
        actor=_cut(event.actor, 200),
        feltpolicy=_cut(event.feltpolicy, 80),
    )
    pending = Pending(entry)
    for pos, item in enumerate(event.items):
        pending.items.append(
            {
                "pos": pos,
                "identifier_type": item.identifier_type[:64],
                "identifier_sealed": pz.seal(item.identifier),
                "dtg": _cut(item.dtg, 40),
                "outcome": item.outcome[:12],
            }
        )
        asked = pz.subjects_of(item.identifier_type, item.identifier)
        subjects = {(REQUESTED, p) for p in asked}
        subjects |= {(RETURNED, pz.identity(i)) for i in item.returned_identities}
        # The vehicle a plate lookup asked for is already a subject; add only what it adds.
        returned = {pz.pseudonym(k, v) for k, v in item.returned_vehicles} - asked
        subjects |= {(RETURNED, p) for p in returned}
        pending.subjects.extend((pos, role, p) for role, p in sorted(subjects))
    return pending


def access_entry(
    actor: str, action: str, query: Mapping[str, Any], *, fiks_org_id: str | None = None
) -> Pending:
    """An access-log entry: ``actor`` did ``action`` on the audit log with filters ``query``.

    ``query`` must already have identifiers replaced by pseudonyms; it is stored as JSON.
    """
    entry = _blank_entry(ACCESS, utcnow(), uuid.uuid4().hex)
    entry.update(
        actor=actor[:200],
        action=action[:50],
        fiks_org_id=_cut(fiks_org_id, 64),
        query=orjson.dumps(dict(query), option=orjson.OPT_SORT_KEYS, default=str).decode(),
    )
    return Pending(entry)


@dataclass(frozen=True, slots=True)
class Head:
    """The chain head row as read under the lock."""

    seq: int
    hash: str
    base_seq: int
    base_hash: str


def lock_head(conn: Connection) -> Head:
    """Lock and read the chain head inside the connection's (write) transaction.

    PostgreSQL: row lock until commit. SQLite: the transaction already holds the database's
    write lock (``BEGIN IMMEDIATE``); ``FOR UPDATE`` is not rendered there.
    """
    row = conn.execute(
        select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.base_seq, _HEAD.c.base_hash)
        .where(_HEAD.c.id == 1)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise RuntimeError("audit_chain_head has no row: run the migrations")
    return Head(int(row.seq), str(row.hash), int(row.base_seq), str(row.base_hash))


def append(conn: Connection, pending: Sequence[Pending], head: Head | None = None) -> Head:
    """Chain ``pending`` after the head and insert it; the caller commits.

    Args:
        conn: a connection inside a write transaction.
        pending: entries in the order they join the chain.
        head: the head if the caller has already locked it, else it is locked here.

    Returns:
        The new head.
    """
    head = head or lock_head(conn)
    seq, prev = head.seq, head.hash
    entries: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    for p in pending:
        seq += 1
        digest = chain.link(prev, chain.canonical(p.entry, p.items, p.subjects))
        entries.append({**p.entry, "seq": seq, "prev_hash": prev, "hash": digest})
        items.extend({**i, "entry_seq": seq} for i in p.items)
        subjects.extend(
            {"entry_seq": seq, "pos": pos, "role": role, "pseudonym": ps}
            for pos, role, ps in p.subjects
        )
        prev = digest
    tables = ((_ENTRY, entries), (_ITEM, items), (_SUBJECT, subjects))
    if conn.dialect.name == "postgresql" and len(entries) + len(items) + len(subjects) <= (
        _PIPELINE_MAX_ROWS
    ):
        _pg_pipelined(conn, tables, seq, prev)
    else:
        for table, rows in tables:
            _bulk_insert(conn, table, rows)
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))
    return Head(seq, prev, head.base_seq, head.base_hash)


#: Up to this many rows a PostgreSQL batch goes as pipelined INSERTs in one round trip; above
#: it COPY's per-row cost wins (psycopg's executemany costs ~0.1 ms of Python per row).
_PIPELINE_MAX_ROWS = 48


def _pg_pipelined(
    conn: Connection,
    tables: Sequence[tuple[Table, list[dict[str, Any]]]],
    seq: int,
    prev: str,
) -> None:
    # Three COPYs and the head UPDATE were eight round trips (~0.15 ms each on loopback) while
    # the head row was locked, so a small batch cost ~2 ms before its commit and two instances
    # queued on the lock. In one pipeline they are one round trip.
    driver = conn.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            for table, rows in tables:
                if not rows:
                    continue
                columns = list(rows[0])
                cursor.executemany(_insert_sql(table, columns, "%s"), _tuples(rows, columns))
            cursor.execute(
                f"UPDATE {_HEAD.name} SET seq = %s, hash = %s WHERE id = 1",  # noqa: S608
                (seq, prev),
            )
    finally:
        cursor.close()


_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` in one driver call: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    SQLAlchemy's Core insert builds parameters row by row in Python, which was half of the
    writer's time per event; the driver's own bulk paths are not. The only type conversion
    Core did for us is the timestamp: SQLite stores it as SQLAlchemy's text format (so the ORM
    and the verifier read it back unchanged), PostgreSQL takes the aware datetime as is.
    """
    if not rows:
        return
    columns = list(rows[0])
    mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
    if mark is None:  # an unexpected driver: let SQLAlchemy do it
        conn.execute(insert(table), rows)
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, columns, rows)
        return
    values: list[Any] = _tuples(rows, columns)
    when = [i for i, c in enumerate(columns) if isinstance(rows[0][c], datetime)]
    if conn.dialect.name == "sqlite" and when:
        for n, value in enumerate(values):
            as_list = list(value)
            for i in when:
                as_list[i] = _sqlite_time(as_list[i])
            values[n] = tuple(as_list)
    conn.exec_driver_sql(_insert_sql(table, columns, mark), values)


def _insert_sql(table: Table, columns: list[str], mark: str) -> str:
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - names are ours
        f"VALUES ({', '.join([mark] * len(columns))})"
    )


def _tuples(rows: list[dict[str, Any]], columns: list[str]) -> list[Any]:
    pick = operator.itemgetter(*columns)  # rows are built alike: same keys, same order
    return [pick(row) for row in rows] if len(columns) > 1 else [(pick(r),) for r in rows]


def _copy(conn: Connection, table: Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
    # COPY sends all rows in one stream: psycopg's pipelined executemany still costs a Python
    # round of ~0.1 ms per row, which made PostgreSQL batches twice as slow as SQLite's.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])  # small batches: clarity over speed
    finally:
        cursor.close()


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, in UTC (what UTCDateTime would bind).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def write_checkpoint(conn: Connection, head: Head, reason: str) -> dict[str, Any]:
    """Insert a checkpoint of ``head`` (read under the lock) and return it as exported."""
    created = utcnow()
    row = {
        "created": created,
        "seq": head.seq,
        "hash": head.hash,
        "entry_count": head.seq - head.base_seq,
        "base_seq": head.base_seq,
        "base_hash": head.base_hash,
        "reason": reason,
    }
    conn.execute(insert(_CHECKPOINT), [row])
    return {**row, "created": chain.format_time(created)}


def record_sync(engine: Engine, pending: Pending) -> None:
    """Append one entry and commit (CLI and admin reads log themselves this way)."""
    with engine.begin() as conn:
        append(conn, [pending])


class DurableAuditSink:
    """An :class:`~kjoretoyregister.audit.events.AuditSink` on the database, with group commit.

    Use as ``async with DurableAuditSink(engine, pz) as sink: await sink.record(ev)``, or call
    :meth:`start`/:meth:`close`. ``record`` starts the writer on first use if needed.
    """

    def __init__(
        self,
        engine: Engine,
        pseudonymizer: Pseudonymizer,
        *,
        queue_size: int = 10_000,
        batch_max: int = 512,
        checkpoint_interval_s: float = 3600.0,
        enqueue_timeout_s: float = 2.0,
        commit_timeout_s: float = 10.0,
        own_engine: bool = False,
        wal_checkpoint_interval_s: float = 0.0,
        anchor_key: Ed25519PrivateKey | None = None,
        anchor_file: Path | None = None,
        anchor_interval_s: float = 300.0,
    ) -> None:
        """Args:
        engine: from :func:`store.db.make_engine`; the audit tables must exist.
        pseudonymizer: keys for pseudonyms and sealing.
        queue_size: events waiting for the writer before ``record`` blocks.
        batch_max: most events committed in one transaction.
        checkpoint_interval_s: how often the writer adds a periodic checkpoint (0 = never).
        enqueue_timeout_s: how long ``record`` waits for queue space before it fails closed.
        commit_timeout_s: how long ``record`` waits for its commit before it fails closed (a
            hung database must not hang every request; a commit that lands later only means a
            recorded request that was answered 503 — the safe direction).
        own_engine: dispose the engine on :meth:`close`.
        wal_checkpoint_interval_s: on a SQLite file, checkpoint the WAL this often in a
            thread of its own instead of inside commits (0 = SQLite's own, in the commit). It
            affects the connections ``engine`` opens from now on: pass a fresh engine.
        anchor_key: signs anchors of the head; with ``anchor_file``, anchoring is on.
        anchor_file: the JSON Lines file anchors are appended to (one writer per file).
        anchor_interval_s: sign after a commit at most this often (0 = never); and once
            more on :meth:`close` if anything was committed since the last anchor.
        """
        if queue_size < 1 or batch_max < 1:
            raise ValueError("queue_size and batch_max must be at least 1")
        if (
            min(checkpoint_interval_s, anchor_interval_s) < 0
            or min(enqueue_timeout_s, commit_timeout_s) <= 0
        ):
            raise ValueError("intervals must be positive")
        self._engine = engine
        self._pz = pseudonymizer
        self._queue_size = queue_size
        self._batch_max = batch_max
        self._checkpoint_interval_s = checkpoint_interval_s
        self._enqueue_timeout_s = enqueue_timeout_s
        self._commit_timeout_s = commit_timeout_s
        self._own_engine = own_engine
        self._wal: WalCheckpointer | None = None
        if wal_checkpoint_interval_s > 0 and walcheckpoint.applies_to(engine):
            walcheckpoint.disable_autocheckpoint(engine)
            self._wal = WalCheckpointer(engine, wal_checkpoint_interval_s)
        self._queue: asyncio.Queue[tuple[AuditEvent, asyncio.Future[None]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._last_checkpoint = _time.monotonic()
        self._anchors = (
            PeriodicAnchors(engine, anchor_key, anchor_file, anchor_interval_s)
            if anchor_key is not None and anchor_file is not None
            else None
        )
        #: Counters for benchmarks and health: committed batches and events.
        self.batches = 0
        self.events = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True) -> DurableAuditSink:
        """Build a sink on ``settings.effective_database_url`` (migrating it up first)."""
        url = settings.effective_database_url
        if migrate:
            upgrade(url)
        from kjoretoyregister.audit.anchors import key_from_settings
        from kjoretoyregister.audit.pseudonyms import pseudonymizer_from_settings

        a = settings.audit
        return cls(
            make_engine(url),
            pseudonymizer_from_settings(settings),
            queue_size=a.queue_size,
            batch_max=a.batch_max,
            checkpoint_interval_s=a.checkpoint_interval_s,
            own_engine=True,
            wal_checkpoint_interval_s=a.sqlite_wal_checkpoint_interval_s,
            anchor_key=key_from_settings(a),
            anchor_file=a.anchor_file,
            anchor_interval_s=a.anchor_interval_s,
        )

    async def start(self) -> None:
        """Start the writer task on the running loop (idempotent)."""
        if self._task is not None:
            return
        if self._closed:
            raise RuntimeError("sink is closed")
        self._queue = asyncio.Queue(self._queue_size)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
        if self._wal is not None:
            self._wal.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def record(self, event: AuditEvent) -> None:
        """Return once ``event`` is committed; raise :class:`AuditUnavailable` if it cannot be."""
        if self._closed:
            raise AuditUnavailable("audit sink is closed")
        if self._task is None:
            await self.start()
        assert self._queue is not None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            # Fast path without a task per call (wait_for wraps its coroutine in one).
            self._queue.put_nowait((event, fut))
        except asyncio.QueueFull:
            try:
                await asyncio.wait_for(self._queue.put((event, fut)), self._enqueue_timeout_s)
            except TimeoutError:
                raise AuditUnavailable("audit queue full") from None
        try:
            # On timeout this cancels our own future; the writer skips done futures, so a
            # late commit only leaves a recorded request that was answered 503.
            async with asyncio.timeout(self._commit_timeout_s):
                await fut
        except TimeoutError:
            raise AuditUnavailable("audit commit timed out") from None

    async def close(self) -> None:
        """Commit what is queued, stop the writer, release the thread (and engine if owned)."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None and self._queue is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._anchors is not None:
            await self._anchors.finish(self.events)
        if self._wal is not None:
            await asyncio.to_thread(self._wal.stop)
        if self._own_engine:
            self._engine.dispose()

    async def __aenter__(self) -> DurableAuditSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            events = [ev for ev, _ in batch]
            try:
                await loop.run_in_executor(self._executor, self._commit, events)
            except Exception as exc:
                # The exception text may quote SQL parameters (identifiers): log its type only.
                log.error("audit_commit_failed", error=type(exc).__name__, events=len(batch))
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(AuditUnavailable("audit store cannot commit"))
            else:
                self.batches += 1
                self.events += len(batch)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
                if self._anchors is not None:
                    self._anchors.after_commit(self.events)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _commit(self, events: Sequence[AuditEvent]) -> None:
        pending = [encode_event(ev, self._pz) for ev in events]
        with self._engine.begin() as conn:
            head = append(conn, pending)
            now = _time.monotonic()
            due = now - self._last_checkpoint >= self._checkpoint_interval_s
            if self._checkpoint_interval_s and due:
                write_checkpoint(conn, head, "periodic")
                self._last_checkpoint = now

    @property
    def anchors(self) -> int:
        """Anchors written by this writer (benchmarks and tests)."""
        return self._anchors.written if self._anchors is not None else 0

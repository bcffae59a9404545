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
import time as _time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from kjoretoyregister.audit import walcheckpoint
from kjoretoyregister.audit.anchor_schedule import PeriodicAnchors
from kjoretoyregister.audit.chainwrite import (
    Head,
    Pending,
    append,
    append_driver,
    lock_head,
    lock_head_driver,
    write_checkpoint,
    write_checkpoint_driver,
)
from kjoretoyregister.audit.encode import access_entry, encode_event
from kjoretoyregister.audit.events import AuditEvent, AuditUnavailable
from kjoretoyregister.audit.hostlock import HostWriteLock
from kjoretoyregister.audit.inline_sqlite import MAX_ITEMS as INLINE_MAX_ITEMS
from kjoretoyregister.audit.inline_sqlite import InlineSqlite
from kjoretoyregister.audit.known_head import KnownHead, Probe
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.subject_index import SubjectIndexer
from kjoretoyregister.audit.walcheckpoint import WalCheckpointer
from kjoretoyregister.config import Settings
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import make_engine, upgrade

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = get_logger(__name__)


#: Re-exported: callers chain entries through the writer module's names.
__all__ = [
    "DurableAuditSink",
    "Head",
    "Pending",
    "access_entry",
    "append",
    "encode_event",
    "lock_head",
    "record_sync",
    "write_checkpoint",
]


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
        subject_index_interval_s: float = 0.5,
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
        subject_index_interval_s: keep the pseudonym index up after commits, looking at
            least this often (0 = not in this sink: readers then scan the unindexed tail,
            so another process must index, see :mod:`~kjoretoyregister.audit.subject_index`).
        """
        if queue_size < 1 or batch_max < 1:
            raise ValueError("queue_size and batch_max must be at least 1")
        if (
            min(checkpoint_interval_s, anchor_interval_s) < 0
            or min(enqueue_timeout_s, commit_timeout_s) <= 0
            or subject_index_interval_s < 0
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
        self._dialect = engine.dialect.name
        if self._dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"the audit log supports SQLite and PostgreSQL, not {self._dialect}")
        self._raw: Any = None
        #: SQLite file: the audit writers of all processes on this host take turns here.
        self._host_lock = HostWriteLock.for_engine(engine)
        #: SQLite file: small batches commit on the loop when nothing has to be waited for.
        self._inline = InlineSqlite(engine) if self._host_lock is not None else None
        #: PostgreSQL: the head this writer last committed, to commit from in one go.
        self._known = KnownHead(engine.url) if self._dialect == "postgresql" else None
        self._anchors = (
            PeriodicAnchors(engine, anchor_key, anchor_file, anchor_interval_s)
            if anchor_key is not None and anchor_file is not None
            else None
        )
        self._indexer = (
            SubjectIndexer(engine, subject_index_interval_s) if subject_index_interval_s else None
        )
        #: Counters for benchmarks and health: committed batches and events.
        self.batches = 0
        self.events = 0

    @property
    def subject_indexer(self) -> SubjectIndexer | None:
        """The pseudonym indexer of this sink (None when it is off): its lag and failures."""
        return self._indexer

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
            subject_index_interval_s=a.subject_index_interval_s,
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
        if self._indexer is not None:
            self._indexer.start()
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
            # The connection belongs to the writer thread: give it back from there.
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._release_connection
            )
            self._executor.shutdown(wait=True)
        if self._host_lock is not None:
            self._host_lock.close()
        if self._inline is not None:
            self._inline.close()
        if self._known is not None:
            await self._known.close()
        if self._anchors is not None:
            await self._anchors.finish(self.events)
        if self._indexer is not None:
            await asyncio.to_thread(self._indexer.stop)
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
                pending = self._loop_pending(events)
                done = False if pending is None else await self._commit_on_loop(pending)
                if done is not True:
                    unsure = done if isinstance(done, Probe) else None
                    await loop.run_in_executor(
                        self._executor, self._commit, events, unsure, pending
                    )
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
                if self._indexer is not None:
                    self._indexer.notify(sum(len(ev.items) for ev in events))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _checkpoint_due(self, now: float) -> bool:
        return bool(self._checkpoint_interval_s) and (
            now - self._last_checkpoint >= self._checkpoint_interval_s
        )

    def _loop_pending(self, events: Sequence[AuditEvent]) -> list[Pending] | None:
        """The batch encoded if it is for a commit on the loop (small, no checkpoint due, a
        loop way for this store), else None: the thread encodes big batches itself."""
        if (self._known is None and self._inline is None) or self._checkpoint_due(
            _time.monotonic()
        ):
            return None
        items = sum(len(ev.items) for ev in events)
        if self._known is not None and not self._known.wants(items):
            return None
        if self._known is None and items > INLINE_MAX_ITEMS:
            return None
        return [encode_event(ev, self._pz) for ev in events]

    async def _commit_on_loop(self, pending: list[Pending]) -> bool | Probe:
        """Commit on the loop: PostgreSQL in one message (see :meth:`KnownHead.commit`),
        SQLite when nobody else is writing.

        Returns True when committed, False when nothing was written (the writer thread
        commits it), or the :class:`Probe` of a batch whose outcome is unknown.
        """
        if self._known is not None:
            return await self._known.commit(pending)
        assert self._inline is not None
        head = self._inline.try_commit(pending)
        if head is None:
            return False
        self._remember(head)
        return True

    def _commit(
        self,
        events: Sequence[AuditEvent],
        unsure: Probe | None = None,
        pending: list[Pending] | None = None,
    ) -> None:
        """The locking way, in the writer thread: lock the head, append, commit.

        ``unsure`` finds this batch in the chain when a one-message attempt of it failed
        with its outcome unknown; if it is there, the batch is committed already.
        ``pending`` is the batch as the loop encoded it, if it did (else it is encoded here).
        """
        if pending is None:
            pending = [encode_event(ev, self._pz) for ev in events]
        if self._host_lock is None:
            self._append_locked(pending, unsure)
        else:
            with self._host_lock.held():
                self._append_locked(pending, unsure)

    def _append_locked(self, pending: list[Pending], unsure: Probe | None) -> None:
        now = _time.monotonic()
        checkpoint = self._checkpoint_due(now)
        conn, head = self._begin()
        driver = conn.driver_connection
        try:
            if unsure is not None and unsure.landed(driver):
                # The one-message commit landed before its connection failed: it is
                # committed, exactly once (wherever other writers have moved the head since).
                driver.rollback()
                self._remember(head)
                return
            head = append_driver(driver, self._dialect, pending, head)
            if checkpoint:
                write_checkpoint_driver(driver, self._dialect, head, "periodic")
            driver.commit()
        except BaseException:
            # Whatever failed (a lost server, a full disk, a constraint), the transaction is
            # not committed; a fresh connection next time beats guessing the state of this one.
            self._discard(conn)
            raise
        self._remember(head)
        if checkpoint:
            self._last_checkpoint = now

    def _remember(self, head: Head) -> None:
        if self._known is not None:
            self._known.head = head

    def _begin(self) -> tuple[Any, Head]:
        """Open the write transaction and lock the head, on a fresh connection if need be.

        The writer keeps its connection, so after a database restart or a failover the kept
        one is dead and only says so when used. Nothing is written before the head is locked,
        so a kept connection that fails there is replaced and the batch tried once more.
        """
        # SQLite: a kept connection to a local file does not go stale; a lock wait is not
        # something to wait through twice.
        kept = self._raw is not None and self._dialect == "postgresql"
        while True:
            conn = self._writer_connection()
            driver = conn.driver_connection
            try:
                if self._dialect == "sqlite":
                    # What store.db's "begin" hook sends: the database's write lock, now.
                    driver.execute("BEGIN IMMEDIATE")
                return conn, lock_head_driver(driver, self._dialect)
            except BaseException:
                self._discard(conn)
                if not kept:
                    raise
                kept = False

    def _discard(self, conn: Any) -> None:
        self._raw = None
        with contextlib.suppress(Exception):
            conn.invalidate()

    def _writer_connection(self) -> Any:
        """The writer thread's own driver connection, held for the sink's life.

        A pool checkout, SQLAlchemy's transaction object and its "begin" event per commit cost
        more CPU than a one-event SQLite commit itself. Only the writer thread uses it.
        """
        if self._raw is None:
            self._raw = self._engine.raw_connection()
        return self._raw

    def _release_connection(self) -> None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            with contextlib.suppress(Exception):
                raw.close()

    @property
    def anchors(self) -> int:
        """Anchors written by this writer (benchmarks and tests)."""
        return self._anchors.written if self._anchors is not None else 0

"""SQLite WAL checkpoints off the audit writer's commit path.

By default SQLite checkpoints inside the commit that pushes the write-ahead log past 1,000
pages: that commit copies the log into the database file and syncs it, and every request whose
audit event is in that batch waits for it. With 1,000-plate lookups (~6,000 subject rows each)
that was every second commit and ~45 ms of each (docs/performance.md); with one-plate lookups
it is a rare pause that lands in the p99.

The audit writer's connections therefore turn the automatic checkpoint off, and this thread
runs a ``PASSIVE`` checkpoint every ``interval_s`` on its own connection. A passive checkpoint
takes no write lock, so commits go on meanwhile. Durability does not change: a commit is
durable when its WAL frames are written (``synchronous=NORMAL`` in WAL mode), before and after
this change; a WAL left by a killed process is replayed on the next open. The only cost is a
WAL that grows up to one interval's worth of writes between checkpoints.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event

from kjoretoyregister.logs import get_logger

log = get_logger(__name__)


def applies_to(engine: Engine) -> bool:
    """A file-backed SQLite engine (in-memory databases have no WAL)."""
    database = engine.url.database or ""
    return engine.dialect.name == "sqlite" and database not in {"", ":memory:"}


def disable_autocheckpoint(engine: Engine) -> None:
    """Turn SQLite's commit-time checkpoint off on every connection ``engine`` opens from now."""

    @event.listens_for(engine, "connect")
    def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()


class WalCheckpointer:
    """A daemon thread that checkpoints ``engine``'s WAL every ``interval_s`` seconds."""

    def __init__(self, engine: Engine, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Checkpoints run, and frames they copied into the database file (for tests, health).
        self.runs = 0
        self.frames_checkpointed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="audit-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, after one last checkpoint so the WAL is small for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def checkpoint(self) -> None:
        """One passive checkpoint now (on a connection of our own, outside any transaction)."""
        raw = self._engine.raw_connection()
        try:
            # The engine's connections run without the driver's implicit transactions
            # (store.db), so this PRAGMA is not wrapped in a BEGIN that would forbid it.
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            raw.close()
        self.runs += 1
        if row is not None and row[2] > 0:
            self.frames_checkpointed += int(row[2])

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._checkpoint_logged()
        self._checkpoint_logged()

    def _checkpoint_logged(self) -> None:
        try:
            self.checkpoint()
        except Exception as exc:  # a failed checkpoint is retried next time; commits go on
            log.warning("audit_wal_checkpoint_failed", error=type(exc).__name__)

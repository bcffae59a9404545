"""SQLite: commit a small batch on the event loop when nobody else is writing.

A one-event SQLite commit in WAL mode with ``synchronous=NORMAL`` writes to the page cache
and does not wait for the disk: ~0.2 ms of CPU. Handing it to the writer thread cost more
than that at saturation: the future's hand-off both ways and the writer waiting for a busy
event loop's GIL after every ``sqlite3`` call (docs/performance.md). So while the writer can
have the database at once — the host's audit lock free, SQLite's write lock free — a small
batch is committed right here, on the loop. Anything that would wait (another worker's
writer, retention, a Konfigurasjon change holding SQLite's lock) goes to the thread, which
may wait: the loop never does. Its own connection has ``busy_timeout=0`` for that reason.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from kjoretoyregister.audit.chainwrite import Head, Pending, append_driver, lock_head_driver
from kjoretoyregister.audit.hostlock import HostWriteLock

#: Most items in a batch committed on the loop (a bulk lookup's thousand go to the thread).
MAX_ITEMS = 16


class InlineSqlite:
    """The loop's own SQLite connection, used only when it need not wait."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # A file description of its own: flock does not exclude a second lock on the same one.
        self._host_lock = HostWriteLock.for_engine(engine)
        self._raw: Any = None

    def try_commit(self, pending: Sequence[Pending]) -> Head | None:
        """Commit ``pending`` now if nothing has to be waited for.

        Returns:
            The new head when committed; None when the lock was taken (nothing written, the
            batch is for the writer thread). A failure after the write began (a full disk, a
            broken file) is raised, as the thread would: the batch fails closed.
        """
        lock = self._host_lock
        if lock is not None and not lock.try_acquire():
            return None
        try:
            return self._commit(pending)
        finally:
            if lock is not None:
                lock.release()

    def _commit(self, pending: Sequence[Pending]) -> Head | None:
        driver = self._connection()
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # SQLITE_BUSY: someone else writes; never wait here
            return None
        try:
            head = append_driver(driver, "sqlite", pending, lock_head_driver(driver, "sqlite"))
            driver.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                driver.rollback()
            self._drop()  # a fresh connection next time beats guessing this one's state
            raise
        return head

    def _connection(self) -> Any:
        if self._raw is None:
            raw = self._engine.raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # a checked-out connection has its driver connection
            driver.execute("PRAGMA busy_timeout=0")
            self._raw = raw
        return self._raw.driver_connection

    def close(self) -> None:
        """Close the connection and the lock file (idempotent)."""
        if self._host_lock is not None:
            self._host_lock.close()
        self._drop()

    def _drop(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            # Not back to the pool: nobody else should get a connection that never waits.
            with contextlib.suppress(Exception):
                raw.invalidate()

"""One audit writer at a time per SQLite file, queued by the kernel instead of by sleeping.

Two gateway workers on one SQLite file take turns at the database's write lock. SQLite's busy
handler does not wait *for* the lock: it sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries, so
a writer that finds the lock taken by a 0.3 ms commit sleeps at least 1 ms and, if it misses
again, 3 ms, then 8 ms. With two workers at a few thousand requests per second this backoff is
the two-worker tail (p99 16.8 ms with 2 workers against 6.8 ms with one, docs/performance.md).

An exclusive ``flock`` on a file beside the database, taken by the writer thread before
``BEGIN IMMEDIATE`` and released after the commit, queues the writers of every process on the
host in the kernel: the waiter wakes when the holder unlocks. SQLite's own lock still guards
the data (anything else that writes — retention, Konfigurasjon — goes through it as before);
this lock only orders the audit writers among themselves, so it cannot deadlock with it: a
holder of this lock waits for SQLite's lock at most as long as before, and SQLite's lock is
never held while waiting for this one (it is taken first).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine

#: Beside the database, like SQLite's own -wal and -shm files.
SUFFIX = "-auditlock"


class HostWriteLock:
    """An exclusive ``flock`` on ``<database>-auditlock``, opened once, taken per commit."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + SUFFIX)
        self._fd: int | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> HostWriteLock | None:
        """The lock for a file-backed SQLite engine; ``None`` for anything else."""
        database = engine.url.database or ""
        if engine.dialect.name != "sqlite" or database in {"", ":memory:"}:
            return None
        if database.startswith("file:"):  # URI filenames: no stable path to lock beside
            return None
        return cls(Path(database))

    def _open(self) -> int:
        if self._fd is None:
            # 0o600: the file holds nothing, but nobody else needs to open it either.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the ``with`` block (blocking; call it from the writer thread)."""
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting; :meth:`release` it after."""
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Release a lock taken by :meth:`try_acquire`."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file (the lock, if held, goes with it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

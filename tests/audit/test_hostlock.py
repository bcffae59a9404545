"""SQLite: the audit writers of a host queue on a file lock beside the database, not on
SQLite's sleeping busy handler; other engines take no such lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from kjoretoyregister.audit.hostlock import HostWriteLock
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import sqlite_database

from .conftest import SECRET, EventFactory


def _database(url: str) -> Path:
    return Path(make_engine(url).url.database or "")


def test_lock_applies_to_sqlite_files_only(tmp_path: Path) -> None:
    assert HostWriteLock.for_engine(make_engine("sqlite://")) is None
    with sqlite_database(tmp_path) as url:
        lock = HostWriteLock.for_engine(make_engine(url))
        assert lock is not None
        assert lock.path == _database(url).with_name(_database(url).name + "-auditlock")


_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_commit_waits_for_the_lock_and_lands_when_it_is_released(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    """While another process's writer holds the lock, a record() does not commit; once the
    lock is released it does, and the chain verifies."""
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        lock_path = _database(url).with_name(_database(url).name + "-auditlock")
        # The "other writer" holds the lock from a separate process, as a second worker would.
        with subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(lock_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            assert holder.stdout is not None and holder.stdin is not None
            assert holder.stdout.readline().strip() == "held"
            release = holder.stdin

            async def scenario() -> None:
                async with DurableAuditSink(engine, pz) as sink:
                    pending = asyncio.ensure_future(sink.record(event()))
                    await asyncio.sleep(0.5)
                    assert not pending.done()
                    with engine.connect() as conn:
                        count = conn.execute(text("SELECT count(*) FROM audit_entry")).scalar()
                    assert count == 0
                    release.write("\n")
                    release.flush()
                    await asyncio.wait_for(pending, 5)
                    assert sink.events == 1

            try:
                asyncio.run(scenario())
            finally:
                holder.kill()
        try:
            mode = stat.S_IMODE(os.stat(lock_path).st_mode)
            assert mode & 0o077 == 0, oct(mode)
            assert verify(engine).ok
        finally:
            engine.dispose()


async def test_the_lock_is_free_between_commits(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    """After record() returns nobody holds the lock: a non-blocking flock succeeds at once."""
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            async with DurableAuditSink(engine, pz) as sink:
                await asyncio.gather(*(sink.record(event()) for _ in range(20)))
                lock = HostWriteLock.for_engine(engine)
                assert lock is not None
                fd = os.open(lock.path, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if held
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
        finally:
            engine.dispose()


def test_two_processes_write_one_linear_chain(tmp_path: Path) -> None:
    """Two writer processes on one file, interleaving 2 × 200 commits: nothing lost, one chain."""
    with sqlite_database(tmp_path) as url:
        script = textwrap.dedent(
            f"""
            import asyncio, uuid
            from datetime import UTC, datetime
            from kjoretoyregister.audit.pseudonyms import Pseudonymizer
            from kjoretoyregister.audit.writer import DurableAuditSink
            from kjoretoyregister.store.db import make_engine
            from tests.audit.conftest import make_event

            async def main():
                async with DurableAuditSink(
                    make_engine({url!r}), Pseudonymizer({SECRET.encode()!r}), own_engine=True
                ) as sink:
                    for _ in range(200):
                        await sink.record(make_event())

            asyncio.run(main())
            """
        )
        root = Path(__file__).resolve().parents[2]
        procs = [subprocess.Popen([sys.executable, "-c", script], cwd=root) for _ in range(2)]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() == 400
            assert verify(engine).ok
        finally:
            engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_no_lock_without_a_file(url: str) -> None:
    assert HostWriteLock.for_engine(make_engine(url)) is None

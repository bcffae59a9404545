"""SQLite: small batches commit on the event loop when nothing has to be waited for, and the
loop never waits — a held lock sends the batch to the writer thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from kjoretoyregister.audit import inline_sqlite
from kjoretoyregister.audit.events import AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import sqlite_database

from .conftest import FNR, EventFactory, count_threaded_commits


async def test_small_batches_commit_on_the_loop_and_bulk_in_the_thread(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    threaded = count_threaded_commits(monkeypatch)
    big = tuple(
        AuditItem("kjennemerke", f"CU{10000 + i}", None, "found", (FNR,))
        for i in range(inline_sqlite.MAX_ITEMS + 1)
    )
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            async with DurableAuditSink(engine, pz) as sink:
                for _ in range(5):
                    await sink.record(event())
                assert threaded == []
                await sink.record(event(items=big))
                assert threaded == [1]
                await sink.record(event())  # after the thread's commit, the loop again
                assert threaded == [1]
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() == 7
            report = verify(engine)
            assert report.ok, report.problems
        finally:
            engine.dispose()


async def test_a_held_write_lock_sends_the_batch_to_the_thread_and_the_loop_keeps_running(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holds SQLite's write lock for 0.6 s (as retention or a Konfigurasjon
    change would): the record waits in the thread, the event loop does not stall meanwhile,
    and the entry lands once the lock is released."""
    threaded = count_threaded_commits(monkeypatch)
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        database = str(engine.url.database)
        holding = threading.Event()

        def hold() -> None:
            other = sqlite3.connect(database, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                holding.set()
                time.sleep(0.6)
                other.execute("ROLLBACK")
            finally:
                other.close()

        try:
            async with DurableAuditSink(engine, pz) as sink:
                await sink.record(event())  # the loop's connection is open and used
                holder = threading.Thread(target=hold)
                holder.start()
                await asyncio.to_thread(holding.wait, 5)
                gaps: list[float] = []

                async def ticker() -> None:
                    last = time.monotonic()
                    while True:
                        await asyncio.sleep(0.01)
                        now = time.monotonic()
                        gaps.append(now - last)
                        last = now

                tick = asyncio.ensure_future(ticker())
                started = time.monotonic()
                await sink.record(event())
                waited = time.monotonic() - started
                tick.cancel()
                await asyncio.to_thread(holder.join, 5)
            assert threaded == [1]
            assert waited >= 0.3  # it really waited for the lock …
            assert max(gaps) < 0.2, max(gaps)  # … in the thread, not on the loop
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() == 2
            assert verify(engine).ok
        finally:
            engine.dispose()


async def test_the_loop_connection_never_waits_and_is_not_pooled(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            async with DurableAuditSink(engine, pz) as sink:
                await sink.record(event())
                assert sink._inline is not None
                driver = sink._inline._connection()
                assert driver.execute("PRAGMA busy_timeout").fetchone()[0] == 0
            # Closed with the sink; what the pool hands out still waits for locks.
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
        finally:
            engine.dispose()

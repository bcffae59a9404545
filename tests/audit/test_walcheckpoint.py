"""SQLite: the audit WAL is checkpointed by its own thread, not inside the writer's commits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Engine, text

from kjoretoyregister.audit.events import AuditEvent, AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.walcheckpoint import applies_to
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.config import load_settings
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import sqlite_database

from .conftest import FNR, EventFactory


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _size(path: Path) -> int:
    return path.stat().st_size


def _big(event: EventFactory, n: int) -> AuditEvent:
    items = tuple(
        AuditItem("kjennemerke", f"AB{10000 + i}", None, "found", (FNR, "986130861"))
        for i in range(n)
    )
    return event(items=items)


async def test_commits_do_not_checkpoint_and_the_thread_does(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        wal = Path(url.removeprefix("sqlite:///") + "-wal")
        # No subject indexer: its writes between the checkpoint and the next commit would grow
        # the log, which is what this test measures.
        sink = DurableAuditSink(
            engine,
            pz,
            own_engine=True,
            wal_checkpoint_interval_s=3600,
            subject_index_interval_s=0,
        )
        assert sink._wal is not None
        async with sink:
            assert _autocheckpoint(engine) == 0  # the writer's connections leave it to us
            for _ in range(8):  # ~8 x 1,300 rows: far past SQLite's 1,000-page autocheckpoint
                await sink.record(_big(event, 300))
            assert sink._wal.runs == 0
            before = _size(wal)
            await asyncio.to_thread(sink._wal.checkpoint)
            assert sink._wal.runs == 1 and sink._wal.frames_checkpointed > 0
            # After a full checkpoint the next commit starts the log from its beginning again.
            await sink.record(event())
            assert _size(wal) == before  # reused, not grown
        reader = make_engine(url)
        try:
            assert verify(reader).ok
            with reader.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar_one() == 9
            assert _autocheckpoint(reader) == 1000  # only the writer's engine is changed
        finally:
            reader.dispose()


async def test_the_thread_runs_on_its_interval_and_at_close(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    with sqlite_database(tmp_path) as url:
        sink = DurableAuditSink(
            make_engine(url), pz, own_engine=True, wal_checkpoint_interval_s=0.05
        )
        assert sink._wal is not None
        async with sink:
            await sink.record(_big(event, 50))
            for _ in range(100):
                if sink._wal.frames_checkpointed:
                    break
                await asyncio.sleep(0.02)
            assert sink._wal.frames_checkpointed > 0
        runs = sink._wal.runs
        assert runs >= 2  # at least one on the interval, one on close
        await asyncio.sleep(0.2)
        assert sink._wal.runs == runs  # stopped with the sink


def test_settings_turn_it_on_for_sqlite_files_only(tmp_path: Path) -> None:
    assert load_settings().audit.sqlite_wal_checkpoint_interval_s == 1.0
    sink = DurableAuditSink.from_settings(
        load_settings(database_url=f"sqlite:///{tmp_path}/a.db"), migrate=True
    )
    assert sink._wal is not None
    memory = make_engine("sqlite://")
    try:
        assert not applies_to(memory)
    finally:
        memory.dispose()
    off = DurableAuditSink.from_settings(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/b.db", audit={"sqlite_wal_checkpoint_interval_s": 0}
        ),
        migrate=True,
    )
    assert off._wal is None

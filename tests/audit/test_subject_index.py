"""The pseudonym index kept up after the answer: readers never miss an entry, on both stores.

A lookup must be in "who looked me up" the moment its answer is sent, before the indexer has
seen it; once indexed it is found once, not twice; the index holds exactly the chained
subjects (verify compares them); purge and the migration keep it whole.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, select, text

from kjoretoyregister.audit import query, retention
from kjoretoyregister.audit.chainwrite import append
from kjoretoyregister.audit.events import AuditEvent, AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.subject_index import (
    SubjectIndexer,
    backlog,
    entries_naming,
    index_step,
    read_mark,
    subject_key,
    subject_rows,
)
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink, encode_event
from kjoretoyregister.store.db import alembic_config, hex64_sql, make_engine, upgrade
from kjoretoyregister.store.testing import sqlite_database

from .conftest import FNR, FNR_OTHER, ORGNR, EventFactory

PRE_INDEX_REVISION = "d5e2b8f3a412"


def _record(engine: Engine, pz: Pseudonymizer, events: list[AuditEvent]) -> None:
    """Commit ``events`` through the real sink, with its indexer off."""

    async def go() -> None:
        async with DurableAuditSink(engine, pz, subject_index_interval_s=0) as sink:
            for ev in events:
                await sink.record(ev)

    asyncio.run(go())


def _plates(n: int, owner: str = FNR) -> tuple[AuditItem, ...]:
    return tuple(
        AuditItem("kjennemerke", f"AB{10000 + i}", None, "found", (owner, ORGNR)) for i in range(n)
    )


def _index(engine: Engine) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key, entry_seq FROM audit_subject_index"))
        return {(r[0], int(r[1])) for r in rows}


def _subjects(engine: Engine) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT pseudonym, entry_seq FROM audit_subject"))
        return {(subject_key(r[0]), int(r[1])) for r in rows}


def _backlog(engine: Engine) -> int:
    with engine.connect() as conn:
        return backlog(conn)


def _catch_up(engine: Engine, step_rows: int = 2_000) -> int:
    steps = 0
    while True:
        with engine.begin() as conn:
            if not index_step(conn, step_rows):
                return steps
        steps += 1


def _lookups(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["seq"], r["role"]) for r in rows]


def test_a_lookup_is_found_before_it_is_indexed_and_once_after(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    _record(engine, pz, [event(), event(items=_plates(3, owner=FNR_OTHER))])
    assert _backlog(engine) == 2
    assert _index(engine) == set()
    mine = pz.identity(FNR)
    before = query.innsyn_rows(engine, mine)
    assert len(before) == 1 and before[0]["role"] == "returned"
    by_filter = list(
        query.search(engine, pz, query.Filters(identifier=FNR_OTHER), actor="test", limit=10)
    )
    assert len(by_filter) == 1 and by_filter[0]["item_count"] == 3

    assert _catch_up(engine) == 1
    assert _backlog(engine) == 0
    assert _index(engine) == _subjects(engine)
    assert _lookups(query.innsyn_rows(engine, mine)) == _lookups(before)
    again = list(
        query.search(engine, pz, query.Filters(identifier=FNR_OTHER), actor="test", limit=10)
    )
    assert [e["seq"] for e in again] == [e["seq"] for e in by_filter]
    # Half indexed, half not: one more lookup after the mark is found with the indexed one.
    _record(engine, pz, [event()])
    assert _backlog(engine) == 2  # the second search's access entry and the lookup
    assert len(query.innsyn_rows(engine, mine)) == 2


def test_a_mark_read_before_a_step_still_names_each_subject_once(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    # A reader that read the mark, then saw the indexer's next step commit (READ COMMITTED
    # gives each statement its own snapshot), must neither miss nor double what moved.
    _record(engine, pz, [event(), event(), event()])
    mine = pz.identity(FNR)
    with engine.connect() as conn:
        stale = read_mark(conn)
    assert _catch_up(engine) == 1
    with engine.connect() as conn:
        assert read_mark(conn) > stale
        rows = conn.execute(subject_rows([mine], stale)).all()
        current = conn.execute(subject_rows([mine], read_mark(conn))).all()
    assert len(rows) == 3
    assert sorted(rows) == sorted(current)


def test_the_indexer_reports_its_lag_after_each_step(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    _record(engine, pz, [event(items=_plates(n)) for n in (2, 2, 2)])
    indexer = SubjectIndexer(engine, 60, step_rows=1)
    try:
        assert indexer.step() == 1
        assert indexer.lag == 2 == _backlog(engine)
        indexer.catch_up()
        assert indexer.lag == 0 == _backlog(engine)
    finally:
        indexer.stop()


def test_catching_up_under_steady_traffic_takes_one_step_not_one_per_commit(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    # One-plate traffic commits an entry every millisecond or two. Stepping again whenever
    # the mark moved kept the indexer in a transaction every ~2 ms for as long as traffic
    # lasted; what arrives during a step is for the next interval.
    _record(engine, pz, [event() for _ in range(5)])
    stop = threading.Event()

    async def traffic() -> None:
        async with DurableAuditSink(engine, pz, subject_index_interval_s=0) as sink:
            while not stop.is_set():
                await sink.record(event())

    writer = threading.Thread(target=asyncio.run, args=(traffic(),))
    writer.start()
    # Steps big enough that none is cut short: each catch_up is then exactly one step,
    # however fast the machine commits.
    indexer = SubjectIndexer(engine, 60, step_rows=10_000_000)
    calls = 0
    try:
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            indexer.catch_up()
            calls += 1
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join()
        indexer.stop()
    assert _backlog(engine) > 0  # traffic went on while the indexer caught up
    assert indexer.indexed >= 5
    assert indexer.steps == calls  # one step per catch_up (was one per commit)


def test_steps_end_at_entry_ends_and_take_each_entry_once(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    sizes = [1, 7, 2, 30, 1, 1, 12]
    _record(engine, pz, [event(items=_plates(n)) for n in sizes])
    with engine.connect() as conn:
        head = int(conn.execute(text("SELECT seq FROM audit_chain_head")).scalar_one())
    marks = []
    while True:
        with engine.begin() as conn:
            moved = index_step(conn, max_rows=10)
            mark = int(conn.execute(text("SELECT seq FROM audit_index_mark")).scalar_one())
        if not moved:
            break
        marks.append(mark)
    assert 1 < len(marks) < len(sizes)  # several steps, but more than one entry per step
    assert marks == sorted(set(marks)) and marks[-1] == head
    assert _index(engine) == _subjects(engine)
    assert verify(engine).ok


def test_the_sink_indexes_a_bulk_answer_soon_after_its_commit(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    async def go() -> int:
        # The interval is long: only the wake-up after a big commit can index it in time.
        async with DurableAuditSink(engine, pz, subject_index_interval_s=60) as sink:
            await sink.record(event(items=_plates(300)))
            for _ in range(200):  # up to 10 s
                if not _backlog(engine):
                    break
                await asyncio.sleep(0.05)
            return _backlog(engine)

    assert asyncio.run(go()) == 0
    assert _index(engine) == _subjects(engine)


def test_indexers_side_by_side_with_a_writer_index_everything_once(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    with sqlite_database(tmp_path) as url:
        engines = [make_engine(url) for _ in range(3)]
        indexers = [SubjectIndexer(e, 0.01, step_rows=5, wake_items=1) for e in engines[1:]]
        try:
            for ix in indexers:
                ix.start()
            _record(engines[0], pz, [event(items=_plates(1 + i % 9)) for i in range(60)])
            deadline = time.monotonic() + 20
            while _backlog(engines[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _backlog(engines[0]) == 0
            assert all(ix.steps for ix in indexers)
            assert _index(engines[0]) == _subjects(engines[0])
            assert verify(engines[0]).ok
        finally:
            for ix in indexers:
                ix.stop()
            for e in engines:
                e.dispose()


def test_the_indexer_keeps_its_thread_alive_through_a_failure(
    tmp_path: Path, pz: Pseudonymizer, event: EventFactory
) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        indexer = SubjectIndexer(engine, 0.02)
        calls = threading.Event()
        real = indexer._step

        def failing_once() -> int:
            if not calls.is_set():
                calls.set()
                raise RuntimeError("database gone for a moment")
            return real()

        indexer._step = failing_once  # type: ignore[method-assign]
        try:
            _record(engine, pz, [event()])
            indexer.start()
            deadline = time.monotonic() + 10
            while _backlog(engine) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert calls.is_set() and _backlog(engine) == 0
            assert indexer.failures == 1  # what /metrics exports
        finally:
            indexer.stop()
            engine.dispose()


def test_a_shared_key_prefix_never_names_another_entry(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """The key is 64 bits of the pseudonym; a different pseudonym with those bits finds nothing."""
    _record(engine, pz, [event()])
    _catch_up(engine)
    mine = pz.identity(FNR)
    twin = mine[:16] + ("0" if mine[16] != "0" else "1") + mine[17:]
    assert subject_key(twin) == subject_key(mine) and twin != mine
    assert len(query.innsyn_rows(engine, mine)) == 1
    assert query.innsyn_rows(engine, twin) == []
    with engine.connect() as conn:
        naming = conn.execute(
            select(query._ENTRY.c.seq).where(query._ENTRY.c.seq.in_(entries_naming([twin], 0)))
        ).all()
    assert naming == []


def test_the_key_is_the_same_in_python_and_in_each_database(engine: Engine) -> None:
    values = ["0" * 64, "f" * 64, "7fffffffffffffff" + "a" * 48, "8000000000000000" + "b" * 48]
    with engine.connect() as conn:
        for value in values:
            sql = f"SELECT {hex64_sql(conn.dialect.name, ':v')}"
            assert conn.execute(text(sql), {"v": value}).scalar_one() == subject_key(value)
    assert [subject_key(v) for v in values] == [0, -1, 2**63 - 1, -(2**63)]


def test_verify_finds_an_index_that_hides_or_invents_a_lookup(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    _record(engine, pz, [event(), event(items=_plates(2))])
    _catch_up(engine)
    assert verify(engine).ok
    mine = pz.identity(FNR)
    with engine.begin() as conn:
        hidden = conn.execute(
            text("DELETE FROM audit_subject_index WHERE key = :k AND entry_seq = 1"),
            {"k": subject_key(mine)},
        ).rowcount
    assert hidden == 1
    report = verify(engine)
    assert not report.ok
    assert [(p.seq, p.kind) for p in report.problems] == [(1, "index")]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_subject_index (key, entry_seq, pos, role) "
                "VALUES (:k, 1, 0, 'r'), (:x, 2, 0, 'r')"
            ),
            {"k": subject_key(mine), "x": 12345},
        )
    report = verify(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(2, "index")]
    assert "do not hold" in report.problems[0].message


def test_purge_takes_the_index_rows_with_the_entries(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    _record(engine, pz, [event(time=old), event(time=old), event()])
    _catch_up(engine)
    assert {seq for _, seq in _index(engine)} == {1, 2, 3}
    result = retention.purge(engine, retention_days=365, actor="test")
    assert result.removed == 2
    assert {seq for _, seq in _index(engine)} == {3}
    assert _index(engine) == _subjects(engine)
    assert verify(engine).ok


def test_the_migration_indexes_what_is_already_stored(
    db_url: str, pz: Pseudonymizer, event: EventFactory
) -> None:
    cfg = alembic_config(db_url)
    command.downgrade(cfg, PRE_INDEX_REVISION)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # the old schema: subjects only, no index tables
            append(conn, [encode_event(event(items=_plates(4)), pz), encode_event(event(), pz)])
        stored = _subjects(engine)
        assert len(stored) > 2
        upgrade(db_url)
        assert _index(engine) == stored
        assert _backlog(engine) == 0
        assert len(query.innsyn_rows(engine, pz.identity(FNR))) == 5
        assert verify(engine).ok
    finally:
        engine.dispose()

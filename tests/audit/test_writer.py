"""The durable sink: committed before record() returns, grouped, linear across writers, and
failing closed when the store cannot commit."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, text

from kjoretoyregister.audit import chainwrite, known_head, writer
from kjoretoyregister.audit.events import AuditItem, AuditUnavailable
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.store.db import make_engine

from .conftest import FNR, PLATE, EventFactory


def _count(engine: Engine, table: str = "audit_entry") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


async def test_record_is_committed_when_it_returns(
    engine: Engine, db_url: str, pz: Pseudonymizer, event: EventFactory
) -> None:
    """A reader on another engine sees the entry as soon as record() has returned."""
    other = make_engine(db_url)
    try:
        async with DurableAuditSink(engine, pz) as sink:
            await sink.record(event(actor="person:abc123"))
            assert await asyncio.to_thread(_count, other) == 1
    finally:
        other.dispose()
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_entry")).mappings().one()
        item = conn.execute(text("SELECT * FROM audit_item")).mappings().one()
        subjects = conn.execute(text("SELECT role, pseudonym FROM audit_subject")).all()
    assert row["seq"] == 1 and row["latency_us"] == 12345 and row["purpose"] == "parkeringsgebyr"
    assert row["actor"] == "person:abc123" and row["kind"] == "lookup"
    # Requested identifier sealed, returned identity only as a pseudonym: nothing in clear.
    assert PLATE not in item["identifier_sealed"] and pz.open(item["identifier_sealed"]) == PLATE
    assert {tuple(s) for s in subjects} == {
        ("q", pz.pseudonym("kjennemerke", PLATE)),
        ("r", pz.pseudonym("fodselsnummer", FNR)),
    }


async def test_concurrent_records_are_grouped_into_few_commits(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """200 concurrent callers share commits, and each still gets its own confirmation."""
    async with DurableAuditSink(engine, pz, batch_max=64) as sink:
        await asyncio.gather(*(sink.record(event()) for _ in range(200)))
        assert sink.events == 200
        assert sink.batches < 50
    assert _count(engine) == 200
    assert verify(engine).ok


async def test_two_instances_keep_one_linear_chain(
    db_url: str, pz: Pseudonymizer, event: EventFactory
) -> None:
    """Two sinks on two engines (two gateway instances) append at once; the chain stays linear."""
    e1, e2 = make_engine(db_url), make_engine(db_url)
    try:
        async with (
            DurableAuditSink(e1, pz, batch_max=16) as s1,
            DurableAuditSink(e2, pz, batch_max=16) as s2,
        ):
            await asyncio.gather(
                *(s.record(event(integrasjon=f"i{n}")) for n in range(150) for s in (s1, s2))
            )
        with e1.connect() as conn:
            seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_entry ORDER BY seq"))]
        assert seqs == list(range(1, 301))
        report = verify(e1)
        assert report.ok, report.problems
        assert report.head_seq == 300
    finally:
        e1.dispose()
        e2.dispose()


async def test_store_failure_fails_closed_and_recovers(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """No commit, no answer: record() raises AuditUnavailable; later records work again."""
    async with DurableAuditSink(engine, pz) as sink:
        await sink.record(event())
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_chain_head RENAME TO audit_chain_head_gone"))
        results = await asyncio.gather(
            *(sink.record(event()) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, AuditUnavailable) for r in results)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_chain_head_gone RENAME TO audit_chain_head"))
        await sink.record(event())
    assert _count(engine) == 2
    assert verify(engine).ok


async def test_writer_survives_its_connection_being_killed(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """The writer keeps one connection. PostgreSQL: when the server drops it (restart,
    failover, pg_terminate_backend) the next batch goes through on a fresh one, no 503.
    SQLite (a local file does not drop connections; here it is closed under the writer): that
    batch fails closed, and the next one works on a fresh connection."""
    # Small batches commit on the loop's own connection (both stores); a batch with more
    # items than that takes goes through the writer thread's kept connection, the one killed.
    big = tuple(
        AuditItem("kjennemerke", f"CU{10000 + i}", None, "found", (FNR,))
        for i in range(known_head.MAX_ITEMS + 1)
    )
    async with DurableAuditSink(engine, pz) as sink:
        await sink.record(event(items=big))
        if engine.dialect.name == "postgresql":
            backend = sink._raw.driver_connection.info.backend_pid
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            await sink.record(event(items=big))
        else:
            sink._raw.driver_connection.close()
            with pytest.raises(AuditUnavailable):
                await sink.record(event(items=big))
        await sink.record(event(items=big))
    assert _count(engine) == (3 if engine.dialect.name == "postgresql" else 2)
    assert verify(engine).ok


async def test_unreachable_database_fails_closed(pz: Pseudonymizer, event: EventFactory) -> None:
    """A database that cannot be reached at all is the same: AuditUnavailable, quickly."""
    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", pool_pre_ping=False)
    try:
        async with DurableAuditSink(dead, pz) as sink:
            with pytest.raises(AuditUnavailable):
                await sink.record(event())
    finally:
        dead.dispose()


async def test_closed_sink_refuses(engine: Engine, pz: Pseudonymizer, event: EventFactory) -> None:
    sink = DurableAuditSink(engine, pz)
    await sink.record(event())
    await sink.close()
    with pytest.raises(AuditUnavailable):
        await sink.record(event())


async def test_error_items_and_searches_are_recorded(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """A malformed upstream answer still leaves the asked-for items, with outcome error."""
    items = (
        AuditItem("kjennemerke", PLATE, "2026-01-01T00:00:00Z", "error"),
        AuditItem("sok/fodselsnummer", f"fodselsnummer={FNR}", None, "not_found"),
    )
    async with DurableAuditSink(engine, pz) as sink:
        await sink.record(event(items=items, svv_status=None, http_status=502))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT pos, outcome, dtg FROM audit_item ORDER BY pos")).all()
    assert [tuple(r) for r in rows] == [
        (0, "error", "2026-01-01T00:00:00Z"),
        (1, "not_found", None),
    ]


def test_bad_options_are_refused(engine: Engine, pz: Pseudonymizer) -> None:
    with pytest.raises(ValueError):
        DurableAuditSink(engine, pz, batch_max=0)


async def test_hung_store_fails_closed_by_timeout(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """A commit that does not finish in time gives AuditUnavailable instead of a hung request."""
    sink = DurableAuditSink(engine, pz, commit_timeout_s=0.2)
    release = threading.Event()
    original = sink._commit

    def slow_commit(events: Any, *rest: Any) -> None:
        release.wait(5)
        original(events, *rest)

    original_loop = sink._commit_on_loop

    async def slow_loop(pending: Any) -> Any:  # small batches commit on the loop
        await asyncio.to_thread(release.wait, 5)
        return await original_loop(pending)

    sink._commit = slow_commit  # type: ignore[method-assign]
    sink._commit_on_loop = slow_loop  # type: ignore[method-assign]
    try:
        with pytest.raises(AuditUnavailable, match="timed out"):
            await sink.record(event())
    finally:
        release.set()
        await sink.close()
    assert _count(engine) == 1  # it was still recorded: answered 503, but not unaudited


async def test_periodic_checkpoints(engine: Engine, pz: Pseudonymizer, event: EventFactory) -> None:
    """With an interval of ~0 every commit also stores a checkpoint of the head."""
    async with DurableAuditSink(engine, pz, checkpoint_interval_s=1e-9) as sink:
        await sink.record(event())
        await sink.record(event())
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq, entry_count, reason FROM audit_checkpoint ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [(1, 1, "periodic"), (2, 2, "periodic")]


@pytest.mark.parametrize("events", [1, 12, 13, 40])
def test_small_and_large_batches_land_whole(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, events: int
) -> None:
    """PostgreSQL sends small batches pipelined and large ones by COPY (the split is at
    ``chainwrite.PIPELINE_MAX_ROWS`` rows); either way every row lands and the chain verifies."""
    # Each event is 4 rows (entry, item, two subjects): 12 events go pipelined, 13 by COPY.
    assert 12 * 4 <= chainwrite.PIPELINE_MAX_ROWS < 13 * 4
    with engine.begin() as conn:
        head = writer.append(conn, [writer.encode_event(event(), pz) for _ in range(events)])
    assert head.seq == events
    assert _count(engine) == events
    assert _count(engine, "audit_item") == events
    assert _count(engine, "audit_subject") == 2 * events
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq, hash FROM audit_chain_head")).one() == (
            events,
            head.hash,
        )
    report = verify(engine)
    assert report.ok, report.problems

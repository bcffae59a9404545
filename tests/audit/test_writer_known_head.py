"""PostgreSQL: the writer's one-message commits, from the head it last committed or chained
by the server onto the head it locks.

The guarded head UPDATE must keep the chain linear when another writer moved the head, the
server must chain exactly as ``audit.chain`` does, and a commit whose outcome is unknown (the
connection failed around it) must land exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from kjoretoyregister.audit import chainwrite, known_head
from kjoretoyregister.audit.events import AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink, record_sync
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema

from .conftest import FNR, EventFactory, count_threaded_commits

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    with postgres_schema(postgres_url) as url:
        yield url


def _seqs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT seq FROM audit_entry ORDER BY seq"))]


async def test_alternating_writers_keep_one_chain(
    pg_url: str, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A, B, A, B…: every commit of A after one of B starts from a head B has moved. The
    guard refuses it cleanly (no error, the connection kept) and the batch is chained by the
    server onto the head it locks, still on the loop: the writer thread is never used, and
    the verifier (which re-hashes every entry in Python) finds the chain intact."""
    discarded: list[object] = []
    monkeypatch.setattr(DurableAuditSink, "_discard", lambda self, conn: discarded.append(conn))
    threaded = count_threaded_commits(monkeypatch)
    e1, e2 = make_engine(pg_url), make_engine(pg_url)
    try:
        async with DurableAuditSink(e1, pz) as a, DurableAuditSink(e2, pz) as b:
            for n in range(40):
                await (a if n % 2 == 0 else b).record(event(integrasjon=f"i{n}"))
        assert _seqs(e1) == list(range(1, 41))
        assert discarded == [] and threaded == []
        report = verify(e1)
        assert report.ok, report.problems
    finally:
        e1.dispose()
        e2.dispose()


async def test_one_writer_commits_from_its_known_head(
    pg_url: str, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone on the chain, the first commit locks the head on the loop, every later one
    takes the one-round-trip way, and the locking way in the writer thread is not used."""
    locking = count_threaded_commits(monkeypatch)
    engine = make_engine(pg_url)
    try:
        async with DurableAuditSink(engine, pz) as sink:
            for _ in range(10):
                await sink.record(event())
        assert locking == []
        assert _seqs(engine) == list(range(1, 11))
        assert verify(engine).ok
    finally:
        engine.dispose()


@pytest.mark.parametrize("landed", [True, False])
async def test_unknown_outcome_lands_exactly_once(
    pg_url: str,
    pz: Pseudonymizer,
    event: EventFactory,
    monkeypatch: pytest.MonkeyPatch,
    landed: bool,
) -> None:
    """The connection fails around the one-round-trip script: after PostgreSQL ran it (the
    commit landed) or before it was sent. Either way the batch is in the chain once, no 503.

    The failure is injected (a real network fault at exactly that point cannot be produced
    here): the script itself runs on the real PostgreSQL first when ``landed``.
    """
    real = psycopg.AsyncConnection.execute
    fail = {"armed": False}

    async def failing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if fail["armed"]:
            fail["armed"] = False
            if landed:
                await real(self, query, *args, **kwargs)
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", failing)
    engine = make_engine(pg_url)
    try:
        async with DurableAuditSink(engine, pz) as sink:
            await sink.record(event())
            await sink.record(event())
            fail["armed"] = True
            await sink.record(event())
            await sink.record(event())
        assert _seqs(engine) == [1, 2, 3, 4]
        assert verify(engine).ok
    finally:
        engine.dispose()


async def test_both_connections_killed(pg_url: str, pz: Pseudonymizer, event: EventFactory) -> None:
    """The server drops the writer thread's and the loop's connections (restart, failover):
    the next record still commits, exactly once, and so do the ones after it."""
    engine = make_engine(pg_url)
    try:
        async with DurableAuditSink(engine, pz) as sink:
            # More items than the loop takes: the locking way, on the thread's connection.
            await sink.record(event(items=_items(known_head.MAX_ITEMS + 1)))
            await sink.record(event())  # known head: the loop's connection
            assert sink._known is not None and sink._known._conn is not None
            pids = [
                sink._raw.driver_connection.info.backend_pid,
                sink._known._conn.info.backend_pid,
            ]
            with engine.begin() as conn:
                for pid in pids:
                    kill = text("SELECT pg_terminate_backend(:p)")
                    assert conn.execute(kill, {"p": pid}).scalar()
            for _ in range(3):
                await sink.record(event())
        assert _seqs(engine) == [1, 2, 3, 4, 5]
        assert verify(engine).ok
    finally:
        engine.dispose()


def _items(n: int) -> tuple[AuditItem, ...]:
    return tuple(
        AuditItem("kjennemerke", f"CU{10000 + i}", None, "found", (FNR,)) for i in range(n)
    )


def _is_server_chained(query: Any) -> bool:
    return str(query).startswith(chainwrite._LOCK_HEAD["postgresql"])


@pytest.mark.parametrize("landed", [True, False])
async def test_server_chained_commit_fails_safely(
    pg_url: str,
    pz: Pseudonymizer,
    event: EventFactory,
    monkeypatch: pytest.MonkeyPatch,
    landed: bool,
) -> None:
    """Another writer moved the head, so A's batch goes as a server-chained script. The
    connection fails around it (after PostgreSQL ran it, or before): the batch is in the
    chain exactly once, no 503, and the lock is not left held (B commits again afterwards)."""
    real = psycopg.AsyncConnection.execute
    fail = {"armed": False, "fired": False}

    async def failing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if fail["armed"] and _is_server_chained(query):
            fail["armed"], fail["fired"] = False, True
            if landed:
                await real(self, query, *args, **kwargs)
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", failing)
    e1, e2 = make_engine(pg_url), make_engine(pg_url)
    try:
        async with DurableAuditSink(e1, pz) as a, DurableAuditSink(e2, pz) as b:
            await a.record(event())
            await b.record(event())  # A's known head is stale now
            fail["armed"] = True
            await a.record(event())  # refused guess, then the server-chained way, which fails
            assert fail["fired"]
            await b.record(event())
            await a.record(event())
        assert _seqs(e1) == [1, 2, 3, 4, 5]
        report = verify(e1)
        assert report.ok, report.problems
    finally:
        e1.dispose()
        e2.dispose()


async def test_unknown_outcome_found_after_another_writer_moved_on(
    pg_url: str, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's one-message commit lands, its connection fails, and another writer commits on top
    before A finds out. The head no longer holds A's batch, but the batch is in the chain:
    A must not write it a second time."""
    real = psycopg.AsyncConnection.execute
    fail = {"armed": False}
    other = make_engine(pg_url)

    async def failing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if fail["armed"]:
            fail["armed"] = False
            await real(self, query, *args, **kwargs)
            # Another instance's entry lands on top before A's writer thread looks.
            from kjoretoyregister.audit.encode import encode_event

            record_sync(other, encode_event(event(integrasjon="other"), pz))
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", failing)
    engine = make_engine(pg_url)
    try:
        async with DurableAuditSink(engine, pz) as sink:
            await sink.record(event())
            await sink.record(event())
            fail["armed"] = True
            await sink.record(event(integrasjon="unsure"))
            await sink.record(event())
        with engine.connect() as conn:
            owners = conn.execute(
                text("SELECT integrasjon_id FROM audit_entry ORDER BY seq")
            ).scalars()
            assert list(owners)[2:4] == ["unsure", "other"]
        assert _seqs(engine) == [1, 2, 3, 4, 5]
        assert verify(engine).ok
    finally:
        engine.dispose()
        other.dispose()


async def test_a_server_chain_that_disagrees_fails_closed(
    pg_url: str, pz: Pseudonymizer, event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer checks the head the server reports against ``audit.chain``. Were they ever
    to disagree, the callers get AuditUnavailable (503), not a silent success."""
    from kjoretoyregister.audit.events import AuditUnavailable

    real = chainwrite.chained_head

    def off_by_one(locked: chainwrite.Head, contents: Any) -> chainwrite.Head:
        head = real(locked, contents)
        return chainwrite.Head(head.seq, "0" + head.hash[1:], head.base_seq, head.base_hash)

    e1, e2 = make_engine(pg_url), make_engine(pg_url)
    try:
        async with DurableAuditSink(e1, pz) as a, DurableAuditSink(e2, pz) as b:
            await a.record(event())
            await b.record(event())
            monkeypatch.setattr(known_head, "chained_head", off_by_one)
            with pytest.raises(AuditUnavailable):
                await a.record(event())  # refused guess, then server-chained: checked
    finally:
        e1.dispose()
        e2.dispose()


@pytest.mark.parametrize("way", ["known head", "server chained"])
async def test_values_reach_the_table_unchanged(
    pg_url: str, pz: Pseudonymizer, event: EventFactory, way: str
) -> None:
    """The one-message commits bind values on the client: quotes, backslashes, SQL, æøå and
    emoji come back byte for byte, and the server hashes the same canonical bytes (the
    verifier re-hashes what is stored)."""
    tricky = "Parkering O'Neill \\ ''; DROP TABLE audit_entry; -- æøå ÆØÅ \U0001f697 $$ %s %(x)s"
    e1, e2 = make_engine(pg_url), make_engine(pg_url)
    try:
        async with DurableAuditSink(e1, pz) as sink, DurableAuditSink(e2, pz) as other:
            await sink.record(event())
            if way == "server chained":
                await other.record(event())  # the known head is stale: the server chains
            await sink.record(event(purpose=tricky, case_reference="2026/1'2\\3"))
        with e1.connect() as conn:
            row = conn.execute(
                text("SELECT purpose, case_reference FROM audit_entry ORDER BY seq DESC LIMIT 1")
            ).one()
        assert tuple(row) == (tricky, "2026/1'2\\3")
        report = verify(e1)
        assert report.ok, report.problems
    finally:
        e1.dispose()
        e2.dispose()

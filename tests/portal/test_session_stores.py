"""Every session store keeps the same rules: memory, Redis, and the database (SQLite, PostgreSQL).

The stores run against the real services (Redis at 127.0.0.1:6379, PostgreSQL's ``test``
database in a fresh schema per test; missing locally → skipped, in CI → failed). Time is a
manual clock, so the timeouts are exact and nothing sleeps.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as redis
from sqlalchemy import Engine, func, select

from kjoretoyregister.portal import db_sessions
from kjoretoyregister.portal.db_sessions import DatabaseSessionStore
from kjoretoyregister.portal.models import PortalSessionRow
from kjoretoyregister.portal.redis_sessions import RedisSessionStore
from kjoretoyregister.portal.sessions import (
    PendingLogin,
    Person,
    SessionStore,
    SessionStoreUnavailable,
)
from kjoretoyregister.store.db import make_engine, make_session_factory
from kjoretoyregister.store.testing import postgres_schema, sqlite_database
from portal.helpers import ManualClock

IDLE, ABSOLUTE = 60, 100
MakeStore = Callable[[ManualClock], SessionStore]


@pytest.fixture
def engines(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Engine]]:
    """Database engines by backend name, made on demand by the ``store`` fixture."""
    made: dict[str, Engine] = {}
    with ExitStack() as stack:
        params = request.node.callspec.params
        backend = params.get("store") or params.get("kind")
        if backend == "sqlite":
            made["sqlite"] = make_engine(stack.enter_context(sqlite_database(tmp_path)))
        elif backend == "postgresql":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
            made["postgresql"] = make_engine(url)
        yield made
        for engine in made.values():
            engine.dispose()


@pytest.fixture(params=["memory", "redis", "sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, engines: dict[str, Engine]
) -> AsyncIterator[MakeStore]:
    kind: str = request.param
    made: list[SessionStore] = []
    prefix = "kjrtest-" + secrets.token_hex(6)
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else ""

    def make(clock: ManualClock) -> SessionStore:
        timeouts = {"idle_timeout_s": IDLE, "absolute_timeout_s": ABSOLUTE, "clock": clock}
        s: SessionStore
        if kind == "memory":
            s = SessionStore(**timeouts)  # type: ignore[arg-type]
        elif kind == "redis":
            s = RedisSessionStore(redis_url, prefix=prefix, **timeouts)  # type: ignore[arg-type]
        else:
            s = DatabaseSessionStore(engines[kind], **timeouts)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        await s.close()


async def test_round_trip_keeps_everything_but_is_a_new_object(store: MakeStore) -> None:
    clock = ManualClock()
    a, b = store(clock), store(clock)  # two instances on the same backing store
    session = a.new()
    session.person = Person(pid_pseudonym="p" * 64, navn="Kari Nordmann", acr="loa-high")
    session.login = PendingLogin("st", "no", "ver", "http://x/callback", clock())
    session.org_id, session.notice = "org-1", "Hei"
    await a.save(session)
    shared = type(a) is not SessionStore  # one process's memory is not shared
    got, expired = await (b if shared else a).get(session.sid)
    assert not expired and got is not None
    assert got is not session or not shared
    assert (got.sid, got.csrf, got.person, got.login) == (
        session.sid,
        session.csrf,
        session.person,
        session.login,
    )
    assert (got.org_id, got.pop_notice(), got.created) == ("org-1", "Hei", session.created)


async def test_unknown_and_missing_ids(store: MakeStore) -> None:
    s = store(ManualClock())
    assert await s.get(None) == (None, False)
    assert await s.get("") == (None, False)
    assert await s.get(secrets.token_urlsafe(32)) == (None, False)
    await s.delete(secrets.token_urlsafe(32))  # deleting what is not there is fine


async def test_idle_timeout(store: MakeStore) -> None:
    clock = ManualClock()
    s = store(clock)
    session = s.new()
    await s.save(session)
    for _ in range(2):  # 80 s after creation (> IDLE), alive because each request touched it
        clock.advance(40)
        got, _ = await s.get(session.sid)
        assert got is not None
        await s.save(got)  # what the middleware does after every request
    quiet = s.new()
    await s.save(quiet)
    clock.advance(IDLE + 1)  # under ABSOLUTE: only the idle timeout can end it
    assert await s.get(quiet.sid) == (None, True)
    assert await s.get(quiet.sid) == (None, False)  # and it is gone, not just refused


async def test_absolute_timeout_however_busy(store: MakeStore) -> None:
    clock = ManualClock()
    s = store(clock)
    session = s.new()
    await s.save(session)
    seen = []
    for _ in range(3):
        clock.advance(40)
        got, expired = await s.get(session.sid)
        seen.append((got is not None, expired))
        if got is not None:
            await s.save(got)
    assert seen == [(True, False), (True, False), (False, True)]


async def test_delete_ends_the_session_on_every_instance(store: MakeStore) -> None:
    clock = ManualClock()
    a, b = store(clock), store(clock)
    session = a.new()
    await a.save(session)
    await a.delete(session.sid)
    assert await a.get(session.sid) == (None, False)
    assert await b.get(session.sid) == (None, False)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_database_rows_are_keyed_by_a_hash_and_purged(
    kind: str, engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cookie value is in no column; expired rows go on access and in bounded purges."""
    engine = engines[kind]
    factory = make_session_factory(engine)
    monkeypatch.setattr(db_sessions, "PURGE_BATCH", 3)
    clock = ManualClock()
    s = DatabaseSessionStore(engine, idle_timeout_s=IDLE, absolute_timeout_s=ABSOLUTE, clock=clock)
    old = [s.new() for _ in range(5)]
    for session in old:
        await s.save(session)
    with factory() as db:
        rows = db.scalars(select(PortalSessionRow)).all()
    assert {r.key for r in rows} == {hashlib.sha256(o.sid.encode()).hexdigest() for o in old}
    for row in rows:
        assert all(o.sid not in row.data and o.sid not in row.key for o in old)
        assert row.expires_at == datetime.fromtimestamp(clock() + IDLE, UTC)

    def count() -> int:
        with factory() as db:
            return int(db.scalar(select(func.count()).select_from(PortalSessionRow)) or 0)

    clock.advance(IDLE + 1)
    assert await s.get(old[0].sid) == (None, True)  # on access
    assert count() == 4
    clock.advance(db_sessions.PURGE_INTERVAL_S)
    fresh = s.new()
    await s.save(fresh)  # opportunistic: at most PURGE_BATCH expired rows per purge
    assert count() == 1 + 4 - 3
    await s.save(fresh)  # not again within the interval
    assert count() == 2
    clock.advance(db_sessions.PURGE_INTERVAL_S + 1)
    assert await s.get(fresh.sid) == (None, True)  # idle longer than IDLE by now
    await s.save(s.new())
    assert count() == 1


async def test_database_errors_are_unavailable_not_a_crash(tmp_path: Path) -> None:
    """A database error (no table, no server) is the store's own error: the portal shows 503."""
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-tables.db'}")  # never migrated
    try:
        s = DatabaseSessionStore(engine, idle_timeout_s=IDLE, absolute_timeout_s=ABSOLUTE)
        with pytest.raises(SessionStoreUnavailable):
            await s.get("abc")
        with pytest.raises(SessionStoreUnavailable):
            await s.save(s.new())
    finally:
        engine.dispose()


async def test_redis_and_database_keys_agree(redis_url: str) -> None:
    """Both shared stores name a session by the same hash (operators can find one in either)."""
    prefix = "kjrtest-" + secrets.token_hex(6)
    s = RedisSessionStore(redis_url, prefix=prefix, idle_timeout_s=IDLE, absolute_timeout_s=9)
    client = redis.Redis.from_url(redis_url)
    try:
        session = s.new()
        await s.save(session)
        key = hashlib.sha256(session.sid.encode()).hexdigest()
        assert await client.exists(f"{prefix}:portal:session:{key}") == 1
    finally:
        await s.close()
        await client.aclose()

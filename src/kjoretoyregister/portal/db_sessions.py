"""Portal sessions in the database: every instance on the same database shares them.

The default store whenever ``KJR_PORTAL__REDIS_URL`` is not set (the portal always has a
database: SQLite for one host, PostgreSQL for several). One row per session in
``portal_session``: ``key`` = SHA-256 of the cookie value (the cookie itself is never stored),
``data`` = the session as JSON — the same encoding Redis holds, so the CSRF token, the pending
OIDC login (state, nonce, PKCE verifier) and the notice travel with the session and a login
begun on one instance can finish on another.

Timeouts are those of :class:`~kjoretoyregister.portal.sessions.SessionStore` on wall-clock
time: a session unused for ``idle_timeout_s`` or older than ``absolute_timeout_s`` is refused
(and its row deleted) when it is next asked for. ``expires_at`` holds the sooner of the two;
at most every :data:`PURGE_INTERVAL_S` a save also deletes up to :data:`PURGE_BATCH` rows
past it, so abandoned sessions do not pile up. Logout deletes the row: the session is gone on
every instance at once.

Every call runs in a worker thread (``asyncio.to_thread``), never on the event loop. A
database that cannot be reached raises
:class:`~kjoretoyregister.portal.sessions.SessionStoreUnavailable` (the portal answers 503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.portal.models import PortalSessionRow
from kjoretoyregister.portal.sessions import (
    PortalSession,
    SessionStore,
    SessionStoreUnavailable,
    encode_session,
    store_key,
)
from kjoretoyregister.store.db import READ_ONLY, make_session_factory

#: Seconds between opportunistic purges of expired rows (per instance).
PURGE_INTERVAL_S = 60.0
#: Expired rows deleted at most per purge (keeps a save's transaction short).
PURGE_BATCH = 500

_TABLE = cast(Table, PortalSessionRow.__table__)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DatabaseSessionStore(SessionStore):
    """:class:`SessionStore`'s interface over the ``portal_session`` table.

    Args:
        engine: the portal's database (SQLite or PostgreSQL, migrated to head).
        idle_timeout_s: a session unused this long is gone.
        absolute_timeout_s: a session older than this is gone.
        clock: wall-clock seconds (every instance must agree); tests pass their own.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        idle_timeout_s: float,
        absolute_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            idle_timeout_s=idle_timeout_s, absolute_timeout_s=absolute_timeout_s, clock=clock
        )
        self._factory: sessionmaker[Session] = make_session_factory(engine)
        self._dialect = engine.dialect.name
        self._next_purge = float("-inf")

    async def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except SQLAlchemyError as exc:
            raise SessionStoreUnavailable() from exc

    async def get(self, sid: str | None) -> tuple[PortalSession | None, bool]:
        if not sid:
            return None, False
        key = store_key(sid)

        def read() -> str | None:
            with self._factory() as s:
                conn = s.connection(execution_options=READ_ONLY)
                found = conn.execute(select(_TABLE.c.data).where(_TABLE.c.key == key)).first()
                s.commit()
                return None if found is None else str(found[0])

        raw: str | None = await self._run(read)
        return await self._admit(sid, raw)

    async def save(self, session: PortalSession) -> None:
        now = self._clock()
        purge = now >= self._next_purge
        if purge:
            self._next_purge = now + PURGE_INTERVAL_S
        values = {
            "key": store_key(session.sid),
            "data": encode_session(session).decode(),
            "created_at": _at(session.created),
            "last_seen_at": _at(session.last_seen),
            "expires_at": _at(self.expires_at(session)),
        }
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        insert = dialect.insert(_TABLE).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={k: insert.excluded[k] for k in values if k not in ("key", "created_at")},
        )

        def write() -> None:
            with self._factory.begin() as s:
                s.execute(upsert)
            if purge:
                self._purge(now)

        await self._run(write)

    def _purge(self, now: float) -> None:
        expired = select(_TABLE.c.key).where(_TABLE.c.expires_at < _at(now)).limit(PURGE_BATCH)
        with self._factory.begin() as s:
            s.execute(delete(_TABLE).where(_TABLE.c.key.in_(expired)))

    async def delete(self, sid: str) -> None:
        key = store_key(sid)

        def remove() -> None:
            with self._factory.begin() as s:
                s.execute(delete(_TABLE).where(_TABLE.c.key == key))

        await self._run(remove)

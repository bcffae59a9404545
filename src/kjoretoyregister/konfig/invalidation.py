"""A cheap "has Konfigurasjon changed?" signal, so authorization decisions can be cached.

:meth:`Authorizer.check` reads the database on every call (~0.25 ms, plus a thread hop in the
gateway). A decision cache removes that from the hot path, but only if a change (new
password, deleted integration, revoked grant, deactivation) still takes effect promptly. Every
such change goes through :mod:`konfig.service`, which appends an ``admin_hendelse`` row in the
same transaction. So:

* **In this process** a SQLAlchemy ``after_commit`` hook bumps a local counter the moment a
  session that added an ``admin_hendelse`` commits: the next check sees the change (the
  :class:`Authorizer` contract).
* **Across processes/instances** :class:`KonfigGeneration` polls
  ``SELECT count(*), max(id) FROM admin_hendelse`` every ``poll_s`` (default 1 s). The pair
  changes with every committed row, even when sequence ids commit out of order. The table is
  append-only and small (admin actions), so the poll costs one short query per second per
  instance. **Bound: a change committed elsewhere is seen within ``poll_s`` + one query.**

A change made *without* ``konfig.service`` (hand-written SQL) is not signalled; it is seen
when the cached decision expires (the gateway's ``--authz-cache-s``).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from kjoretoyregister.konfig.models import AdminHendelse
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

_FLAG = "kjr_konfig_changed"
_local_lock = threading.Lock()
_local_counter = itertools.count(1)
_local_generation = 0


def local_generation() -> int:
    """Konfigurasjon commits made by this process so far (through ``konfig.service``)."""
    return _local_generation


def _after_flush(session: Session, _ctx: Any) -> None:
    if any(isinstance(obj, AdminHendelse) for obj in session.new):
        session.info[_FLAG] = True


def _after_commit(session: Session) -> None:
    global _local_generation
    if session.info.pop(_FLAG, False):
        with _local_lock:
            _local_generation = next(_local_counter)


def _after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)


def install_local_hooks() -> None:
    """Listen on every ORM session of this process (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback_soft)


def _after_rollback_soft(session: Session, _previous: Any) -> None:
    _after_rollback(session)


_QUERY = select(func.count(), func.max(AdminHendelse.id)).select_from(AdminHendelse)


class KonfigGeneration:
    """The current generation of Konfigurasjon as (local commits, remote count, remote max id).

    Args:
        engine: the Konfigurasjon database (shared by every instance).
        poll_s: seconds between polls of ``admin_hendelse``.
    """

    def __init__(self, engine: Engine, *, poll_s: float = 1.0) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s must be positive")
        install_local_hooks()
        self._engine = engine
        self.poll_s = poll_s
        self._remote: tuple[int, int] = (-1, -1)
        self.listeners: list[Callable[[], None]] = []
        self.polls = 0
        self.failures = 0

    def current(self) -> tuple[int, int, int]:
        """A value that differs whenever Konfigurasjon may have changed (cheap, no I/O)."""
        return (local_generation(), *self._remote)

    def poll_once(self) -> bool:
        """Read the remote generation (blocking); True if it changed."""
        with self._engine.connect() as conn:
            count, top = conn.execute(_QUERY).one()
        remote = (int(count), int(top or 0))
        self.polls += 1
        changed = remote != self._remote
        self._remote = remote
        return changed

    async def run(self) -> None:
        """Poll until cancelled. A failed poll makes the generation unknown (no cache hits)."""
        while True:
            try:
                changed = await asyncio.to_thread(self.poll_once)
            except Exception as exc:  # database away: stop trusting cached decisions
                self.failures += 1
                self._remote = (-2, self.failures)
                changed = True
                log.warning("konfig_generation_poll_failed", error=type(exc).__name__)
            if changed:
                for listener in self.listeners:
                    listener()
            await asyncio.sleep(self.poll_s)

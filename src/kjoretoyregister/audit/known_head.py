"""PostgreSQL: commit a small batch on the event loop, in one message.

In the gateway at 500 req/s a one-event commit through the writer thread took ~1.9 ms (p50)
against ~1.0 ms alone: each of its round trips ended with the writer waiting for the GIL of a
busy event loop. Here the writer task itself sends the batch as one script on an asyncio
psycopg connection of its own: no thread, no hand-back, one round trip. While the writer knows
the head (it committed the last entry itself) the script moves it from there (see
:func:`~kjoretoyregister.audit.chainwrite.known_head_script`). When another writer (a second
worker or instance) has moved the head, the guess is refused at the cost of one message, and
the following batches go as a script that locks the head and lets the server chain the rows
onto it (:func:`~kjoretoyregister.audit.chainwrite.server_chained_script`), still one message,
so the head's lock is never held across a round trip. The writer thread's locking way is left
for big batches, checkpoints, a connection that cannot be opened and batches whose outcome is
unknown.

Big batches (bulk lookups) are never encoded here: that work belongs off the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.chainwrite import (
    PIPELINE_MAX_ROWS,
    Head,
    Pending,
    chain_rows,
    chained_head,
    head_of,
    server_chained_script,
)
from kjoretoyregister.audit.chainwrite import known_head_script as _script
from kjoretoyregister.audit.models import ENTRY_TABLE
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

#: Most items in a batch encoded on the event loop (~30 µs of CPU per item).
MAX_ITEMS = 16
#: Batches chained by the server (no guess) after another writer moved the head.
PAUSE_AFTER_MOVED = 32
#: After the connection could not be opened, seconds before it is tried again.
RETRY_CONNECT_S = 5.0


class _Refused(Exception):
    """The guess was refused: another writer had moved the head (nothing written)."""


_FIND_ENTRY = (
    f"SELECT prev_hash, hash FROM {ENTRY_TABLE.name} "  # noqa: S608
    "WHERE time = %s AND correlation_id = %s"
)


@dataclass(frozen=True, slots=True)
class Probe:
    """How to find out whether a batch whose commit outcome is unknown is in the chain.

    A batch commits whole or not at all, so its first entry tells: an entry with the same
    time and correlation id whose hash covers exactly this content (``chain.link`` of its own
    ``prev_hash`` and ``content``). This holds wherever the batch landed, also when another
    writer has moved the head past it since.
    """

    time: datetime
    correlation_id: str
    content: bytes

    @classmethod
    def of(cls, pending: Sequence[Pending]) -> Probe:
        first = pending[0]
        content = chain.canonical(first.entry, first.items, first.subjects)
        return cls(first.entry["time"], first.entry["correlation_id"], content)

    def landed(self, driver: Any) -> bool:
        """Whether the batch is committed (a psycopg connection, in the writer thread)."""
        cursor = driver.cursor()
        try:
            cursor.execute(_FIND_ENTRY, (self.time, self.correlation_id))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return any(chain.link(prev, self.content) == digest for prev, digest in rows)


def conninfo(url: URL) -> str:
    """libpq's URI for a SQLAlchemy ``postgresql+psycopg`` URL (options such as the schema
    search path included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class KnownHead:
    """The head this writer last committed, and the connection to commit from it in one go.

    Only the writer task uses it, one batch at a time; the writer thread's locking commit
    sets :attr:`head` after it commits.
    """

    def __init__(self, url: URL, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._conninfo = conninfo(url)
        self._clock = clock
        self.head: Head | None = None
        self._pause = 0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._connect_after = -math.inf

    def wants(self, events_items: int) -> bool:
        """Whether a batch with this many items should be committed here, on the loop."""
        return events_items <= MAX_ITEMS and self._clock() >= self._connect_after

    async def commit(self, pending: Sequence[Pending]) -> bool | Probe:
        """Commit ``pending`` on the loop in one message: from :attr:`head` if this writer
        knows it, else (or if the guess is refused) chained by the server onto the head.

        Returns:
            True when committed; False when nothing was committed and the outcome is clear
            (the batch is for the locking way in the writer thread); a :class:`Probe` when
            the connection failed around the committing message and the outcome is unknown —
            the caller must find out with it whether the batch landed.
        """
        conn = await self._connection()
        if conn is None:
            return False
        known = self.head
        if known is not None and self._pause == 0:
            try:
                return await self._from_known(conn, pending, known)
            except _Refused:
                # Another writer is active: guessing would cost a refused message per batch.
                self._pause = PAUSE_AFTER_MOVED
        elif self._pause > 0:
            self._pause -= 1
        return await self._server_chained(conn, pending)

    async def _from_known(
        self, conn: psycopg.AsyncConnection[Any], pending: Sequence[Pending], known: Head
    ) -> bool | Probe:
        chained = chain_rows(pending, known)
        if chained.row_count > PIPELINE_MAX_ROWS:
            return False
        try:
            script = _script(psycopg.AsyncClientCursor(conn), chained, known)
        except Exception:  # cannot bind a value: nothing sent, let the locking way report it
            return False
        try:
            await conn.execute(script)
        except psycopg.errors.DivisionByZero:
            self.head = None
            raise _Refused() from None
        except Exception as exc:
            return await self._unknown(exc, pending)
        self.head = chained.head
        return True

    async def _server_chained(
        self, conn: psycopg.AsyncConnection[Any], pending: Sequence[Pending]
    ) -> bool | Probe:
        """Lock the head, let the server chain and insert the batch and move the head, in one
        message; then check that the head it reports is the one :mod:`.chain` computes."""
        if sum(p.row_count for p in pending) > PIPELINE_MAX_ROWS:
            return False
        try:
            sc = server_chained_script(psycopg.AsyncClientCursor(conn), pending)
        except Exception:  # cannot bind a value: nothing sent, let the locking way report it
            return False
        try:
            cursor = await conn.execute(sc.script)
            locked = head_of(await cursor.fetchone())
            while cursor.nextset():
                pass
            moved = await cursor.fetchone()
        except Exception as exc:
            # A server error rolls the whole script back; a lost connection leaves it open
            # whether it committed: the probe tells.
            return await self._unknown(exc, pending)
        expected = chained_head(locked, sc.contents)
        if moved is None or (int(moved[0]), str(moved[1])) != (expected.seq, expected.hash):
            # Committed, but not as audit.chain would have chained it: verification will show
            # it. Fail the batch (503, the safe direction) and say so loudly.
            self.head = None
            log.error("audit_server_chain_mismatch", seq=expected.seq)
            raise RuntimeError("the server chained the batch differently from audit.chain")
        self.head = expected
        return True

    async def _unknown(self, exc: Exception, pending: Sequence[Pending]) -> Probe:
        self.head = None
        await self._drop()
        log.warning("audit_known_head_outcome_unknown", error=type(exc).__name__)
        return Probe.of(pending)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        await self._drop()

    async def _connection(self) -> psycopg.AsyncConnection[Any] | None:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            # Autocommit: every script is its own transaction (a psycopg BEGIN would cost a
            # round trip of its own).
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=5
            )
        except Exception as exc:
            self._connect_after = self._clock() + RETRY_CONNECT_S
            log.warning("audit_known_head_connect_failed", error=type(exc).__name__)
            return None
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception as exc:  # closing a dead connection must not fail the writer
                log.debug("audit_known_head_close_failed", error=type(exc).__name__)

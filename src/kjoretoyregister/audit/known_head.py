"""PostgreSQL: commit a small batch on the event loop, in one message from the known head.

In the gateway at 500 req/s a one-event commit through the writer thread took ~1.9 ms (p50)
against ~1.0 ms alone: each of its round trips ended with the writer waiting for the GIL of a
busy event loop. Here the writer task itself sends the batch as one script (see
:func:`~kjoretoyregister.audit.chainwrite.known_head_script`) on an asyncio psycopg
connection of its own: no thread, no hand-back, one round trip, while the writer knows the
head (it committed the last entry itself). When another writer (a second worker or instance)
has moved the head, the guess is refused at the cost of one message and the batch is
committed with the head locked, still on the loop, in two: ``BEGIN`` + ``SELECT … FOR
UPDATE``, then the inserts, the head and ``COMMIT``; the following batches skip the guess for
a while. The writer thread's locking way is left for big batches, checkpoints, a connection
that cannot be opened and batches whose outcome is unknown.

Big batches (bulk lookups) are never encoded here: that work belongs off the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from kjoretoyregister.audit.chainwrite import (
    LOCK_HEAD_PG,
    PIPELINE_MAX_ROWS,
    Head,
    Pending,
    chain_rows,
    head_of,
)
from kjoretoyregister.audit.chainwrite import known_head_script as _script
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

#: Most items in a batch encoded on the event loop (~30 µs of CPU per item).
MAX_ITEMS = 16
#: Batches committed with the head locked (no guess) after another writer moved the head.
PAUSE_AFTER_MOVED = 32
#: After the connection could not be opened, seconds before it is tried again.
RETRY_CONNECT_S = 5.0

#: :meth:`KnownHead.commit` sent nothing: the batch is for the locking way, outcome clear.
NOT_TRIED = Head(-1, "", -1, "")
#: The guess was refused: another writer had moved the head (nothing written).
_REFUSED = Head(-2, "", -2, "")


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

    async def commit(self, pending: Sequence[Pending]) -> Head | None:
        """Commit ``pending`` on the loop: from :attr:`head` in one round trip if this writer
        knows it, else (or if the guess is refused) with the head locked, in two.

        Returns:
            None when committed; :data:`NOT_TRIED` when nothing was committed and the
            outcome is clear (the batch is for the locking way in the writer thread);
            otherwise the head the batch would have made, when the connection failed around
            the committing message and the outcome is unknown — the caller must find out
            from the head whether it landed.
        """
        conn = await self._connection()
        if conn is None:
            return NOT_TRIED
        known = self.head
        if known is not None and self._pause == 0:
            outcome = await self._from_known(conn, pending, known)
            if outcome is not _REFUSED:
                return outcome
            # Another writer is active: guessing would cost a refused message per batch.
            self._pause = PAUSE_AFTER_MOVED
        elif self._pause > 0:
            self._pause -= 1
        return await self._locked(conn, pending)

    async def _from_known(
        self, conn: psycopg.AsyncConnection[Any], pending: Sequence[Pending], known: Head
    ) -> Head | None:
        chained = chain_rows(pending, known)
        if chained.row_count > PIPELINE_MAX_ROWS:
            return NOT_TRIED
        try:
            script = _script(psycopg.AsyncClientCursor(conn), chained, known)
        except Exception:  # cannot bind a value: nothing sent, let the locking way report it
            return NOT_TRIED
        try:
            await conn.execute(script)
        except psycopg.errors.DivisionByZero:
            self.head = None
            return _REFUSED
        except Exception as exc:
            return await self._unknown(exc, chained.head)
        self.head = chained.head
        return None

    async def _locked(
        self, conn: psycopg.AsyncConnection[Any], pending: Sequence[Pending]
    ) -> Head | None:
        """Lock and read the head, then insert, move it and COMMIT in a second message.

        Two round trips and no thread: with two writers taking turns (two workers, two
        instances) every batch found the head moved, and the locking way in the writer
        thread paid the GIL hand-back on each of its round trips.
        """
        try:
            cursor = await conn.execute(LOCK_HEAD_PG)
            cursor.nextset()  # past BEGIN's (empty) result to the head row
            head = head_of(await cursor.fetchone())
        except Exception as exc:
            # Nothing of the batch was sent. The open transaction holds the head's lock:
            # the connection goes, and the lock with it.
            self.head = None
            await self._drop()
            log.warning("audit_loop_lock_failed", error=type(exc).__name__)
            return NOT_TRIED
        chained = chain_rows(pending, head)
        try:
            if chained.row_count > PIPELINE_MAX_ROWS:
                raise ValueError("batch too large for one message")
            script = _script(psycopg.AsyncClientCursor(conn), chained, head) + ";\nCOMMIT"
        except Exception:  # nothing sent: give the lock back, let the locking way report it
            await self._drop()
            return NOT_TRIED
        try:
            await conn.execute(script)
        except Exception as exc:
            # A server error aborts the rest of the message (the COMMIT included), a lost
            # connection leaves it open whether the COMMIT ran: either way the head tells.
            return await self._unknown(exc, chained.head)
        self.head = chained.head
        return None

    async def _unknown(self, exc: Exception, would_be: Head) -> Head:
        self.head = None
        await self._drop()
        log.warning("audit_known_head_outcome_unknown", error=type(exc).__name__)
        return would_be

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

"""PostgreSQL: commit a small batch in one message, on the event loop, from the known head.

In the gateway at 500 req/s a one-event commit through the writer thread took ~1.9 ms (p50)
against ~1.0 ms alone: each of its round trips ended with the writer waiting for the GIL of a
busy event loop. Here the writer task itself sends the batch as one script (see
:func:`~kjoretoyregister.audit.chainwrite.known_head_script`) on an asyncio psycopg
connection of its own: no thread, no hand-back, one round trip. It only applies while the
writer knows the head — it committed the last entry itself; another writer (a second worker
or instance) having moved the head costs one refused script, after which the batch goes the
locking way in the writer thread and this stays out of the way for a while.

Big batches (bulk lookups) are never encoded here: that work belongs off the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from kjoretoyregister.audit.chainwrite import PIPELINE_MAX_ROWS, Head, Pending, chain_rows
from kjoretoyregister.audit.chainwrite import known_head_script as _script
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

#: Most items in a batch encoded on the event loop (~30 µs of CPU per item).
MAX_ITEMS = 16
#: Batches left to the locking way after another writer moved the head.
PAUSE_AFTER_MOVED = 32
#: After the connection could not be opened, seconds before it is tried again.
RETRY_CONNECT_S = 5.0

#: :meth:`KnownHead.commit` sent nothing: the batch is for the locking way, outcome clear.
NOT_TRIED = Head(-1, "", -1, "")


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
        """Whether a batch with this many items should be tried here."""
        if self.head is None or events_items > MAX_ITEMS:
            return False
        if self._pause > 0:
            self._pause -= 1
            return False
        return self._clock() >= self._connect_after

    async def commit(self, pending: Sequence[Pending]) -> Head | None:
        """Commit ``pending`` after :attr:`head` in one round trip.

        Returns:
            None when committed; :data:`NOT_TRIED` when nothing was sent or the guard
            refused it (nothing written); otherwise the head the batch would have made, when
            the connection failed around the script and the outcome is unknown — the caller
            must find out from the head whether it landed.
        """
        known = self.head
        if known is None:
            return NOT_TRIED
        chained = chain_rows(pending, known)
        if chained.row_count > PIPELINE_MAX_ROWS:
            return NOT_TRIED
        conn = await self._connection()
        if conn is None:
            return NOT_TRIED
        try:
            script = _script(psycopg.AsyncClientCursor(conn), chained, known)
        except Exception:  # cannot bind a value: nothing sent, let the locking way report it
            return NOT_TRIED
        try:
            await conn.execute(script)
        except psycopg.errors.DivisionByZero:
            self.head = None
            self._pause = PAUSE_AFTER_MOVED
            return NOT_TRIED
        except Exception as exc:
            self.head = None
            await self._drop()
            log.warning("audit_known_head_outcome_unknown", error=type(exc).__name__)
            return chained.head
        self.head = chained.head
        return None

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

"""When the durable writer signs an anchor: after a commit, at most every ``interval_s``.

Kept out of :mod:`.writer` (which owns the commit path) so that module stays about commits.
Signing runs in a thread of its own and nobody waits for it: a request's answer never waits
for an anchor, and a failed anchor is logged (by error type only) and retried at the next
due commit; requests keep being audited meanwhile.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from kjoretoyregister.logs import get_logger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = get_logger(__name__)


class PeriodicAnchors:
    """Anchors of ``engine``'s chain head, appended to ``file`` and signed with ``key``."""

    def __init__(
        self, engine: Engine, key: Ed25519PrivateKey, file: Path, interval_s: float
    ) -> None:
        self._engine = engine
        self._key = key
        self._file = file
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        # The first commit is anchored at once: it pins the chain as this writer found it.
        self._last = -math.inf
        self._anchored_events = 0
        #: Anchors written (benchmarks and tests).
        self.written = 0

    def after_commit(self, events: int) -> None:
        """Start an anchor in a thread if one is due and none is running; never wait for it."""
        if not self._interval_s:
            return
        if self._task is not None and not self._task.done():
            return
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return
        self._last = now
        self._task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write, events), name="audit-anchor"
        )

    async def finish(self, events: int) -> None:
        """On close: wait for a running anchor, then pin what was committed since the last."""
        if self._task is not None:
            await self._task
        if events > self._anchored_events:
            await asyncio.to_thread(self._write, events)

    def _write(self, events: int) -> None:
        from kjoretoyregister.audit import anchors

        try:
            anchors.append_anchor(self._file, anchors.make_anchor(self._engine, self._key))
        except Exception as exc:
            log.error("audit_anchor_failed", error=type(exc).__name__)
            return
        self.written += 1
        self._anchored_events = max(self._anchored_events, events)

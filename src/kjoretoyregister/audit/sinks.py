"""Small audit sinks: in memory (tests, demo) and a no-op (benchmarks of the bare gateway).

The durable sink (database, hash chain, grouped commits) belongs to the audit issue and will
live next to these, implementing the same :class:`~kjoretoyregister.audit.events.AuditSink`.
"""

from __future__ import annotations

from kjoretoyregister.audit.events import AuditEvent, AuditUnavailable


class MemoryAuditSink:
    """Keeps events in a list. ``fail = True`` makes ``record`` raise, to test fail-closed."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.fail = False

    async def record(self, event: AuditEvent) -> None:
        """Append ``event``, or raise :class:`AuditUnavailable` when ``fail`` is set."""
        if self.fail:
            raise AuditUnavailable("memory sink switched to fail")
        self.events.append(event)


class NullAuditSink:
    """Accepts every event and keeps nothing. Only for measuring the gateway without audit."""

    async def record(self, event: AuditEvent) -> None:
        """Do nothing."""
        return None

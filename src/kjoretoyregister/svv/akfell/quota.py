"""akfell's daily quota: vehicles per Maskinporten client per day, Norwegian time.

SVV counts the vehicles an answer delivers ("the number of vehicles in the response exceeds
the quota", svv-api.md §2.3, §6) and reports what is left in ``gjenstaendeKvote``; sisdinky
showed 4944 left after a 26-plate call (so about 5000 a day: ``akfell_daily_quota``). An answer
that would go over the quota is not delivered: 422 with ``Retry-After`` = seconds until the
next midnight in Norway and a plain-text body. The count starts again at that midnight.

The memory is this process only (the simulator is one process); it is not persisted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime

from kjoretoyregister.svv.faults import OSLO


class QuotaExhausted(Exception):
    """The answer would take the client over its daily quota; ``remaining`` is what is left."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} left")
        self.remaining = remaining


class DailyQuota:
    """Per-client counters that reset at midnight Europe/Oslo (thread-safe).

    Args:
        limit: units per client per day.
        now: the current time (tests pass their own).
    """

    def __init__(self, limit: int, *, now: Callable[[], datetime] | None = None) -> None:
        self.limit = limit
        self._now = now or (lambda: datetime.now(OSLO))
        self._day: date | None = None
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def _roll(self) -> None:
        today = self._now().astimezone(OSLO).date()
        if today != self._day:
            self._day = today
            self._used.clear()

    def remaining(self, client: str) -> int:
        with self._lock:
            self._roll()
            return max(0, self.limit - self._used.get(client, 0))

    def take(self, client: str, units: int) -> int:
        """Use ``units`` of the client's quota and return what is left.

        Raises:
            QuotaExhausted: fewer than ``units`` are left (nothing is used then).
        """
        with self._lock:
            self._roll()
            left = self.limit - self._used.get(client, 0)
            if units > left:
                raise QuotaExhausted(max(0, left))
            self._used[client] = self._used.get(client, 0) + units
            return left - units

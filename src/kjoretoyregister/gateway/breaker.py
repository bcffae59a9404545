"""A circuit breaker per upstream, counting *consecutive* failures (as KrakenD does).

States: **closed** (calls pass; ``failures`` consecutive failures open it) → **open** (calls
are refused at once with 503 + ``Retry-After`` for ``cooldown_s``) → **half-open** (exactly
one probe call passes; others are still refused) → closed on the probe's success, open again
(for another ``cooldown_s``) on its failure. A failure is a timeout, a refused/dropped
connection or an SVV 5xx; a 4xx or 429 from SVV is an answer, not a failure.

One event loop per instance, so no locks: every transition happens between awaits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import IntEnum

from kjoretoyregister.gateway.errors import CircuitOpen
from kjoretoyregister.gateway.metrics import GatewayMetrics
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)


class State(IntEnum):
    """The breaker's state; the value is what the metric shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Args:
    name: the upstream's name in logs and the ``upstream`` metric label.
    failures: consecutive failures that open the breaker.
    cooldown_s: how long it stays open before one probe is let through.
    """

    def __init__(
        self,
        name: str,
        *,
        failures: int = 5,
        cooldown_s: float = 5.0,
        metrics: GatewayMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or cooldown_s <= 0:
            raise ValueError("failures must be ≥ 1 and cooldown_s > 0")
        self.name = name
        self._threshold = failures
        self._cooldown = cooldown_s
        self._clock = clock
        self._metrics = metrics
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False
        self._state = State.CLOSED
        self._publish()

    @property
    def state(self) -> State:
        """The current state (an open breaker past its cool-down reads as half-open)."""
        if self._state is State.OPEN and self._clock() - self._opened_at >= self._cooldown:
            return State.HALF_OPEN
        return self._state

    def before(self) -> None:
        """Call before each upstream call; raises :class:`CircuitOpen` if it may not go."""
        if self._state is State.CLOSED:
            return
        now = self._clock()
        remaining = self._cooldown - (now - self._opened_at)
        if self._state is State.OPEN and remaining <= 0:
            self._set(State.HALF_OPEN)
        if self._state is State.HALF_OPEN and not self._probing:
            self._probing = True  # this call is the probe
            return
        raise CircuitOpen(retry_after=max(1, math.ceil(remaining)))

    def success(self) -> None:
        """The call got an answer from the upstream."""
        self._consecutive = 0
        self._probing = False
        if self._state is not State.CLOSED:
            log.info("breaker_closed", upstream=self.name)
            self._set(State.CLOSED)

    def failure(self) -> None:
        """The call failed (timeout, connection error, 5xx)."""
        self._consecutive += 1
        if self._state is State.HALF_OPEN or self._consecutive >= self._threshold:
            if self._state is not State.OPEN:
                log.warning("breaker_open", upstream=self.name, failures=self._consecutive)
            self._probing = False
            self._opened_at = self._clock()
            self._set(State.OPEN)

    def release(self) -> None:
        """The call ended without a verdict (cancelled): let another probe go."""
        self._probing = False

    def _set(self, state: State) -> None:
        self._state = state
        self._publish()

    def _publish(self) -> None:
        if self._metrics is not None:
            self._metrics.breaker_state.labels(self.name).set(int(self._state))

"""Rate limits (requests/s) and quotas (items/day) per Fiks org and per integration.

Counters live in Redis when ``redis_url`` is set, so every gateway instance shares them; else
in this process. The ``limits`` library's sliding-window counter is used for both: two keys
per limit (current and previous window), one round trip per hit, no unbounded lists.

Redis down (decision, documented in docs/deployment.md): **fail open to in-process limits.**
A Redis error or timeout (socket timeout 0.25 s) switches this instance to its own in-memory
counters with the same limits, logs ``ratelimit_backend_down`` once, counts
``kjr_gateway_ratelimit_backend_errors`` and retries Redis after ``retry_redis_s``. While
degraded, a caller spread over N instances can get up to N× its limit: a flood is still
bounded, and lookups (which are audited either way) keep working when only Redis is gone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from kjoretoyregister.config import GatewaySettings
from kjoretoyregister.gateway.errors import RateLimited
from kjoretoyregister.gateway.metrics import GatewayMetrics
from kjoretoyregister.limitstore import close_storage, redis_storage
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Limit:
    scope: str  # "org" | "integration"
    kind: str  # "requests" | "items"
    item: RateLimitItem


class RateLimiter:
    """Checks and counts one request against the configured limits.

    Args:
        settings: the gateway settings (limits, ``redis_url``, ``redis_prefix``).
        metrics: where rejections and backend errors are counted.
        retry_redis_s: after a Redis failure, how long to use local counters before retrying.
        clock: monotonic clock.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        *,
        retry_redis_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        s = settings
        limits: list[_Limit] = []
        if s.rate_org_per_s:
            limits.append(_Limit("org", "requests", RateLimitItemPerSecond(s.rate_org_per_s)))
        if s.rate_integration_per_s:
            per_s: RateLimitItem = RateLimitItemPerSecond(s.rate_integration_per_s)
            limits.append(_Limit("integration", "requests", per_s))
        if s.quota_org_items_per_day:
            limits.append(_Limit("org", "items", RateLimitItemPerDay(s.quota_org_items_per_day)))
        if s.quota_integration_items_per_day:
            per_day: RateLimitItem = RateLimitItemPerDay(s.quota_integration_items_per_day)
            limits.append(_Limit("integration", "items", per_day))
        self._limits = tuple(limits)
        self._metrics = metrics
        self._clock = clock
        self._retry_redis_s = retry_redis_s
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._redis_storage: Storage | None = None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if s.redis_url and self._limits:
            self._redis_storage = redis_storage(
                s.redis_url, key_prefix=f"{s.redis_prefix}:rl", timeout_s=0.25
            )
            self._shared = SlidingWindowCounterRateLimiter(self._redis_storage)
        self._degraded_until = float("-inf")

    @property
    def enabled(self) -> bool:
        """Whether any limit is configured."""
        return bool(self._limits)

    @property
    def backend(self) -> str:
        """``redis``, ``local`` (no Redis configured) or ``local-fallback`` (Redis down)."""
        if self._shared is None:
            return "local"
        return "local-fallback" if self._clock() < self._degraded_until else "redis"

    async def hit(self, fiks_org_id: str, integrasjon_id: str, items: int) -> None:
        """Count one request of ``items`` items; raise :class:`RateLimited` if over a limit."""
        if not self._limits:
            return
        limiter = self._shared if self.backend == "redis" else self._local
        assert limiter is not None
        try:
            await self._hit(limiter, fiks_org_id, integrasjon_id, items)
        except RateLimited:
            raise
        except Exception as exc:  # the store failed: fail open to local counters
            if limiter is self._local:
                raise
            self._degraded_until = self._clock() + self._retry_redis_s
            self._metrics.rate_backend_errors.inc()
            log.warning("ratelimit_backend_down", error=type(exc).__name__, fallback="local")
            await self._hit(self._local, fiks_org_id, integrasjon_id, items)

    async def _hit(
        self, limiter: SlidingWindowCounterRateLimiter, org: str, integ: str, items: int
    ) -> None:
        for limit in self._limits:
            who = org if limit.scope == "org" else integ
            cost = 1 if limit.kind == "requests" else max(1, items)
            if await limiter.hit(limit.item, limit.scope, limit.kind, who, cost=cost):
                continue
            self._metrics.rate_rejections.labels(limit.scope, limit.kind).inc()
            stats = await limiter.get_window_stats(limit.item, limit.scope, limit.kind, who)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(retry_after=retry)

    async def close(self) -> None:
        """Release the Redis connection pool, if any."""
        await close_storage(self._redis_storage)

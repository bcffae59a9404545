"""Login rate limits: per client address and per person, shared through Redis when configured.

Two limits, both over ``login_limit_window_s`` (60 s):

- **per client address** (``login_limit_per_ip``, 60): every request to ``/logg-inn`` and to
  ``/callback`` counts, before anything is done with it — an address over the limit starts no
  login and redeems no code.
- **per person** (``login_limit_per_person``, 10): completed logins of one person, counted
  once ID-porten has vouched for the identity; over the limit no session is made. The person
  is known here only by the keyed audit pseudonym of the pid, so neither the fødselsnummer
  nor a plain (enumerable) hash of it is ever a key.

Keys carry only hashes: ``<prefix>:portal:login…/address/<sha256>`` and ``…/person/<sha256>``.
The client address is the peer, or, from a proxy in ``trusted_proxies``, the last
``X-Forwarded-For`` entry that is not itself a trusted proxy.

Counters are the ``limits`` library's *moving window* (one timestamp per attempt, at most the
limit's amount per key): exact, so N attempts spread over any number of instances make the
next one 429 on all of them. With ``KJR_PORTAL__REDIS_URL`` they live in Redis; without it in
this process's memory (each instance counts for itself). Redis down: like the gateway's rate
limiter, fall back to the in-process counters for :data:`RETRY_REDIS_S` and log
``login_limit_backend_down`` (session reads fail with 503 then anyway when they are in Redis).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from kjoretoyregister.config import PortalSettings
from kjoretoyregister.limitstore import close_storage, redis_storage
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

#: After a Redis failure, seconds on in-process counters before Redis is tried again.
RETRY_REDIS_S = 5.0


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"kjr-portal-login:{kind}:{value}".encode()).hexdigest()


class LoginLimiter:
    """Counts login attempts; :meth:`hit_address` and :meth:`hit_person` say when to refuse.

    Args:
        settings: the ``portal`` settings (limits, window, Redis, trusted proxies).
        clock: monotonic seconds, for the Redis retry only (the counters use wall time).
    """

    def __init__(
        self, settings: PortalSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        window = settings.login_limit_window_s
        self._per_address: RateLimitItem | None = (
            RateLimitItemPerSecond(settings.login_limit_per_ip, window)
            if settings.login_limit_per_ip
            else None
        )
        self._per_person: RateLimitItem | None = (
            RateLimitItemPerSecond(settings.login_limit_per_person, window)
            if settings.login_limit_per_person
            else None
        )
        self._trusted = frozenset(settings.trusted_proxies)
        self._clock = clock
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._redis_storage: Storage | None = None
        self._shared: MovingWindowRateLimiter | None = None
        url = settings.redis_url
        if url and (self._per_address or self._per_person):
            self._redis_storage = redis_storage(
                url, key_prefix=f"{settings.redis_prefix}:portal:login", timeout_s=0.5
            )
            self._shared = MovingWindowRateLimiter(self._redis_storage)
        self._degraded_until = float("-inf")

    def client_address(self, request: web.Request) -> str:
        """The client's address: the peer, or what a trusted proxy says it forwarded for."""
        peer = request.remote or ""
        if not self._trusted or not _is_in(peer, self._trusted):
            return peer
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _is_in(hop, self._trusted):
                return hop if _is_address(hop) else peer
        return peer

    async def hit_address(self, request: web.Request) -> int | None:
        """Count one login request from this client; seconds to wait if over the limit."""
        if self._per_address is None:
            return None
        return await self._hit(self._per_address, "address", self.client_address(request))

    async def hit_person(self, pid_pseudonym: str) -> int | None:
        """Count one completed login of this person; seconds to wait if over the limit."""
        if self._per_person is None:
            return None
        return await self._hit(self._per_person, "person", pid_pseudonym)

    async def _hit(self, item: RateLimitItem, kind: str, value: str) -> int | None:
        key = _digest(kind, value)
        limiter = self._shared
        if limiter is None or self._clock() < self._degraded_until:
            limiter = self._local
        try:
            return await _count(limiter, item, kind, key)
        except Exception as exc:  # the shared store failed: fall back to local counters
            if limiter is self._local:
                raise
            self._degraded_until = self._clock() + RETRY_REDIS_S
            log.warning("login_limit_backend_down", error=type(exc).__name__, fallback="local")
            return await _count(self._local, item, kind, key)

    async def close(self) -> None:
        """Release the Redis connection pool, if any."""
        await close_storage(self._redis_storage)


async def _count(
    limiter: MovingWindowRateLimiter, item: RateLimitItem, kind: str, key: str
) -> int | None:
    if await limiter.hit(item, kind, key):
        return None
    stats = await limiter.get_window_stats(item, kind, key)
    return max(1, math.ceil(stats.reset_time - time.time()))


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_in(value: str, addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        return ipaddress.ip_address(value) in addresses
    except ValueError:
        return False

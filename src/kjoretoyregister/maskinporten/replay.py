"""Where the stand-in remembers used grant ``jti`` values: this process, or Redis for N instances.

Maskinporten refuses a grant whose ``jti`` it has seen (MP-012). With several stand-in
instances behind one address, a memory per process would let a replayed grant through on
whichever instance has not seen it; :class:`RedisReplay` shares the memory. Each ``jti`` is
kept until its grant's ``exp`` plus the clock skew, after which the grant is refused for its
age anyway, so the store stays bounded.

If Redis cannot be reached the token request fails closed (503): a replay check that cannot
be made is not passed.
"""

from __future__ import annotations

import hashlib
import math
from typing import Protocol

from kjoretoyregister.maskinporten.errors import MP_GRANT_REUSED, InvalidGrant, TokenError
from kjoretoyregister.maskinporten.grants import MAX_CLOCK_SKEW_S, ReplayCache


class ReplayUnavailable(TokenError):
    """The shared replay memory could not be reached; no token is issued."""

    status = 503
    error = "temporarily_unavailable"


MP_REPLAY_UNAVAILABLE = "MP-900"


class ReplayStore(Protocol):
    """Record a grant's ``jti``; refuse one seen before."""

    async def check_and_add(self, client_id: str, jti: str, exp: float, *, now: float) -> None:
        """Raises InvalidGrant (MP-012) for a seen ``jti``, ReplayUnavailable if unsure."""

    async def close(self) -> None:
        """Release connections."""


class MemoryReplay:
    """One process's memory (the default: a single stand-in)."""

    def __init__(self) -> None:
        self.cache = ReplayCache()

    def __len__(self) -> int:
        return len(self.cache)

    async def check_and_add(self, client_id: str, jti: str, exp: float, *, now: float) -> None:
        self.cache.check_and_add(client_id, jti, exp, now=now)

    async def close(self) -> None:
        return None


class RedisReplay:
    """Shared memory in Redis: ``SET key 1 NX PX ttl``, one round trip per token request."""

    def __init__(self, url: str, prefix: str = "kjr") -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = f"{prefix}:mp:jti:"

    def _key(self, client_id: str, jti: str) -> str:
        # Hashed: a jti may be 256 characters of anything; the key stays short and opaque.
        digest = hashlib.sha256(f"{client_id}\0{jti}".encode()).hexdigest()
        return self._prefix + digest

    async def check_and_add(self, client_id: str, jti: str, exp: float, *, now: float) -> None:
        from redis.exceptions import RedisError

        ttl_ms = max(1, math.ceil((exp + MAX_CLOCK_SKEW_S - now) * 1000))
        try:
            fresh = await self._redis.set(self._key(client_id, jti), b"1", nx=True, px=ttl_ms)
        except (RedisError, OSError):
            raise ReplayUnavailable(
                MP_REPLAY_UNAVAILABLE, "Replay check unavailable; try again shortly"
            ) from None
        if not fresh:
            raise InvalidGrant(MP_GRANT_REUSED, "Grant is used before")

    async def close(self) -> None:
        await self._redis.aclose()

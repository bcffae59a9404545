"""Portal sessions in Redis: any portal instance serves any session; logout ends it everywhere.

One key per session, ``<prefix>:portal:session:<sha256(sid)>`` (the cookie value itself is
not a key, so a Redis dump does not hand out live cookies), holding the session as JSON with
a Redis TTL of what is left of its idle and absolute timeouts: Redis forgets a session at
the moment the portal would refuse it. The CSRF token, the pending OIDC login (state, nonce,
PKCE verifier) and the notice travel with the session, so a login started on one instance
can finish on another.

Timeouts are on wall-clock time (every instance must agree); a Redis that cannot be reached
makes the request fail (no session is better than a session the other instances disagree on).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kjoretoyregister.portal.sessions import (
    PortalSession,
    SessionStore,
    SessionStoreUnavailable,
    encode_session,
    store_key,
)

__all__ = ["RedisSessionStore", "SessionStoreUnavailable"]


class RedisSessionStore(SessionStore):
    """:class:`SessionStore`'s interface over Redis (its timeout rules and :meth:`new`)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "kjr",
        idle_timeout_s: float,
        absolute_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            idle_timeout_s=idle_timeout_s, absolute_timeout_s=absolute_timeout_s, clock=clock
        )
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = f"{prefix}:portal:session:"

    def _key(self, sid: str) -> str:
        return self._prefix + store_key(sid)

    async def get(self, sid: str | None) -> tuple[PortalSession | None, bool]:
        if not sid:
            return None, False
        from redis.exceptions import RedisError

        try:
            raw = await self._redis.get(self._key(sid))
        except (RedisError, OSError) as exc:
            raise SessionStoreUnavailable() from exc
        return await self._admit(sid, raw)

    async def save(self, session: PortalSession) -> None:
        from redis.exceptions import RedisError

        now = self._clock()
        ttl_ms = max(1, math.ceil((self.expires_at(session) - now) * 1000))
        try:
            await self._redis.set(self._key(session.sid), encode_session(session), px=ttl_ms)
        except (RedisError, OSError) as exc:
            raise SessionStoreUnavailable() from exc

    async def delete(self, sid: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.delete(self._key(sid))
        except (RedisError, OSError) as exc:
            raise SessionStoreUnavailable() from exc

    async def close(self) -> None:
        await self._redis.aclose()

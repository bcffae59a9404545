"""Redis storage for the ``limits`` rate limiters of the gateway and the portal.

One place for how a limiter reaches Redis (the async redis-py bridge, errors wrapped so a
limiter can fall back to its local counts, short socket timeouts so a slow Redis costs a
request little) and for giving its connection pool back on shutdown.
"""

from __future__ import annotations

from limits.aio.storage import RedisStorage, Storage

from kjoretoyregister.logs import get_logger

log = get_logger(__name__)


def redis_storage(url: str, *, key_prefix: str, timeout_s: float) -> RedisStorage:
    """``limits``' async Redis storage for ``url`` (``redis://…``; ``async+`` is added)."""
    return RedisStorage(
        url if url.startswith("async+") else "async+" + url,
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=key_prefix,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )


async def close_storage(storage: Storage | None) -> None:
    """Release the Redis connection pool behind ``storage``, if any (never raises)."""
    bridge = getattr(storage, "bridge", None)
    aclose = getattr(getattr(bridge, "storage", None), "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception as exc:  # closing a dead connection must not fail shutdown
        log.debug("limit_storage_close_failed", error=type(exc).__name__)

"""Operator switches (maintenance mode) shared by every gateway instance through Redis.

Without ``redis_url`` a switch is this instance's own, as before. With it, the admin toggle
writes the switch to Redis and every instance reads it back every ``switch_poll_s`` (0.5 s by
default), so ``PUT /gateway/admin/maintenance`` on one instance closes all of them within one
poll. A poll one GET per instance per interval costs nothing next to the traffic.

If Redis cannot be read, an instance keeps the last value it saw (it neither opens nor closes
on its own) and counts the failure; the toggle itself fails with 503 so the operator knows
the other instances did not get it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

MAINTENANCE = "maintenance"


class SwitchStoreUnavailable(Exception):
    """Redis did not take the change; the other instances have not seen it."""


class SharedSwitches:
    """Switch values in Redis (``<prefix>:switch:<name>`` = ``1``/absent), polled."""

    def __init__(self, url: str, prefix: str, *, poll_s: float = 0.5) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = f"{prefix}:switch:"
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    async def set(self, name: str, on: bool) -> None:
        """Write a switch for every instance.

        Raises:
            SwitchStoreUnavailable: Redis did not answer.
        """
        from redis.exceptions import RedisError

        try:
            if on:
                await self._redis.set(self._prefix + name, b"1")
            else:
                await self._redis.delete(self._prefix + name)
        except (RedisError, OSError) as exc:
            raise SwitchStoreUnavailable(name) from exc

    async def get(self, name: str) -> bool | None:
        """The shared value, or None when Redis cannot be read."""
        from redis.exceptions import RedisError

        try:
            return await self._redis.get(self._prefix + name) is not None
        except (RedisError, OSError):
            self.failures += 1
            return None

    def watch(self, name: str, apply: Callable[[bool], None]) -> None:
        """Poll ``name`` in the background and call ``apply`` with each value read."""

        async def loop() -> None:
            while True:
                value = await self.get(name)
                if value is not None:
                    apply(value)
                else:
                    log.warning("switch_store_unreachable", switch=name)
                await asyncio.sleep(self._poll_s)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()

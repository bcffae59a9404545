"""Rate limits and daily quotas per org and per integration, in-process and shared via Redis.

Each Redis test uses its own key prefix, so tests never share counters with each other or
with anything else on the server.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from kjoretoyregister.config import GatewaySettings
from kjoretoyregister.gateway.app import GATEWAY_KEY
from kjoretoyregister.gateway.errors import RateLimited
from kjoretoyregister.gateway.metrics import GatewayMetrics
from kjoretoyregister.gateway.ratelimit import RateLimiter
from stack import Stack, start_stack


async def _lookup(stack: Stack, token: str, plates: int = 1) -> tuple[int, dict[str, str], Any]:
    body = orjson.dumps([{"kjennemerke": "CU11297"}] * plates)
    async with stack.http.post(
        stack.api("bulk/kjennemerke"),
        data=body,
        headers={**stack.headers(token), "Content-Type": "application/json"},
    ) as resp:
        return resp.status, dict(resp.headers), orjson.loads(await resp.read())


def _prefix() -> str:
    return "kjrtest-" + secrets.token_hex(6)


async def test_in_process_requests_per_second_gives_429_with_retry_after(
    tmp_path: Path, register_path: Path
) -> None:
    async with start_stack(
        tmp_path, register_path=register_path, gateway={"rate_integration_per_s": 3}
    ) as stack:
        token = await stack.token()
        statuses = [(await _lookup(stack, token))[0] for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
        status, headers, body = await _lookup(stack, token)
        assert status == 429
        assert int(headers["Retry-After"]) >= 1
        assert body["errorCode"] == "KJR-GW-RATE"
        assert body["status"] == 429
        # The refusal is audited like every answer to a known caller.
        refused = stack.memory_audit.events[-1]
        assert refused.http_status == 429
        assert [i.outcome for i in refused.items] == ["error"]  # the item asked, not answered


async def test_items_per_day_quota_counts_bulk_items(tmp_path: Path, register_path: Path) -> None:
    async with start_stack(
        tmp_path, register_path=register_path, gateway={"quota_org_items_per_day": 5}
    ) as stack:
        token = await stack.token()
        assert (await _lookup(stack, token, plates=4))[0] == 200
        status, headers, body = await _lookup(stack, token, plates=2)
        assert status == 429 and body["errorCode"] == "KJR-GW-RATE"
        assert int(headers["Retry-After"]) > 60  # a day window: not "try in a second"
        assert (await _lookup(stack, token, plates=1))[0] == 200  # 4 + 1 = 5 still fits


async def test_redis_counters_are_shared_between_instances(redis_url: str) -> None:
    # Two limiters = two gateway instances' view of the same Redis prefix.
    prefix = _prefix()
    settings = GatewaySettings(rate_org_per_s=4, redis_url=redis_url, redis_prefix=prefix)
    one, two = RateLimiter(settings, GatewayMetrics()), RateLimiter(settings, GatewayMetrics())
    org, integ = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        await one.hit(org, integ, 1)
        await two.hit(org, integ, 1)
        await one.hit(org, integ, 1)
        await two.hit(org, integ, 1)
        with pytest.raises(RateLimited) as refused:
            await one.hit(org, integ, 1)
        assert refused.value.retry_after is not None and refused.value.retry_after >= 1
        await two.hit(str(uuid.uuid4()), integ, 1)  # another org has its own counter
        assert one.backend == two.backend == "redis"
        redis = Redis.from_url(redis_url)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}:rl*")]
            assert keys and all(org.encode() in k or b"org" in k for k in keys)
        finally:
            await redis.aclose()
    finally:
        await one.close()
        await two.close()


async def test_redis_down_fails_open_to_local_limits(tmp_path: Path, register_path: Path) -> None:
    # A closed port: every Redis call fails at once (connection refused).
    limits = {"rate_integration_per_s": 2, "redis_url": "redis://127.0.0.1:1/0"}
    async with start_stack(tmp_path, register_path=register_path, gateway=limits) as stack:
        token = await stack.token()
        statuses = [(await _lookup(stack, token))[0] for _ in range(4)]
        # Lookups keep working (fail open), but the local limit still holds.
        assert statuses[:2] == [200, 200]
        assert 429 in statuses[2:]
        async with stack.http.get(stack.gateway_root + "/metrics") as resp:
            text = await resp.text()
        assert "kjr_gateway_ratelimit_backend_errors_total 1.0" in text
        assert 'kjr_gateway_ratelimit_rejections_total{kind="requests",scope="integration"}' in text


async def test_redis_lost_mid_run_falls_back(
    tmp_path: Path, register_path: Path, redis_url: str
) -> None:
    limits = {"rate_integration_per_s": 100, "redis_url": redis_url, "redis_prefix": _prefix()}
    async with start_stack(tmp_path, register_path=register_path, gateway=limits) as stack:
        token = await stack.token()
        assert (await _lookup(stack, token))[0] == 200
        # Break this gateway's Redis client (not the shared server): close its connections
        # and point it at a closed port, as a Redis restart or network cut would.
        gateway = stack.extra["gateway_app"][GATEWAY_KEY]
        storage: Any = gateway.ratelimiter._redis_storage
        pool = storage.bridge.storage.connection_pool
        await pool.disconnect()
        pool.connection_kwargs["port"] = 1
        pool.reset()
        assert (await _lookup(stack, token))[0] == 200
        assert gateway.ratelimiter.backend == "local-fallback"

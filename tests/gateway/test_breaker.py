"""Circuit breaker, GET-only retries, the deadline and load shedding, against real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from kjoretoyregister.gateway.breaker import CircuitBreaker, State
from kjoretoyregister.gateway.errors import CircuitOpen
from kjoretoyregister.gateway.metrics import GatewayMetrics
from stack import CaptureUpstream, Stack, start_stack

SOK = "sok/kjennemerke?kjennemerke=CU11297"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = Clock()
    metrics = GatewayMetrics()
    b = CircuitBreaker("svv", failures=3, cooldown_s=10, metrics=metrics, clock=clock)
    for _ in range(2):
        b.before()
        b.failure()
    b.before()
    b.success()  # a success in between resets the count: failures must be consecutive
    for _ in range(3):
        b.before()
        b.failure()
    assert b.state is State.OPEN
    with pytest.raises(CircuitOpen) as refused:
        b.before()
    assert refused.value.retry_after == 10
    assert metrics.registry.get_sample_value("kjr_gateway_breaker_state", {"upstream": "svv"}) == 2
    clock.now += 10
    b.before()  # the one probe
    with pytest.raises(CircuitOpen):
        b.before()  # others wait for its verdict
    b.failure()  # probe failed: open for another cool-down
    assert b.state is State.OPEN
    clock.now += 10
    b.before()
    b.success()
    assert b.state is State.CLOSED
    b.before()


async def _get(stack: Stack, token: str, tail: str = SOK) -> tuple[int, dict[str, str], Any]:
    async with stack.http.get(stack.api(tail), headers=stack.headers(token)) as resp:
        raw = await resp.read()
        return resp.status, dict(resp.headers), orjson.loads(raw) if raw else None


async def test_svv_outage_opens_the_breaker_and_recovery_closes_it(
    tmp_path: Path, register_path: Path
) -> None:
    settings = {"breaker_failures": 2, "breaker_cooldown_s": 0.5, "health_cache_s": 0}
    async with start_stack(tmp_path, register_path=register_path, gateway=settings) as stack:
        token = await stack.token()
        assert (await _get(stack, token))[0] == 200
        await stack.sim_faults(outage=True)
        status, _, _ = await _get(stack, token)
        assert status == 503  # SVV's own 503 passed through (after retries)
        status, headers, body = await _get(stack, token)
        assert status == 503
        assert body["errorCode"] == "KJR-SVV-KRETSBRYTER-APEN"
        assert int(headers["Retry-After"]) >= 1
        async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
            assert resp.status == 503
            assert (await resp.json())["checks"]["svv_breaker"] == "fail"
        await stack.sim_faults(outage=False)
        await asyncio.sleep(0.6)
        assert (await _get(stack, token))[0] == 200  # the probe
        assert (await _get(stack, token))[0] == 200
        async with stack.http.get(stack.gateway_root + "/metrics") as resp:
            text = await resp.text()
        assert 'kjr_gateway_breaker_state{upstream="svv"} 0.0' in text
        assert 'kjr_gateway_upstream_retries_total{upstream="svv"}' in text


async def test_only_gets_are_retried(tmp_path: Path) -> None:
    upstream = CaptureUpstream(b'{"feil": "midlertidig"}', status=503)
    async with start_stack(
        tmp_path, upstream=upstream.app(), gateway={"get_retries": 2, "breaker_failures": 50}
    ) as stack:
        token = await stack.token()
        status, _, _ = await _get(stack, token)
        assert status == 503
        assert len(upstream.requests) == 3  # one try + two retries
        upstream.requests.clear()
        async with stack.http.post(
            stack.api("bulk/kjennemerke"),
            data=orjson.dumps([{"kjennemerke": "CU11297"}]),
            headers={**stack.headers(token), "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 503
        assert len(upstream.requests) == 1  # POST bulk is never re-sent


async def test_retries_stop_at_the_deadline(tmp_path: Path) -> None:
    upstream = CaptureUpstream(b"{}", status=502)
    async with start_stack(
        tmp_path,
        upstream=upstream.app(),
        gateway={"get_retries": 5, "deadline_s": 0.15, "breaker_failures": 50},
    ) as stack:
        token = await stack.token()
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _, _ = await _get(stack, token)
        assert status in (502, 504)
        assert loop.time() - started < 1.0


async def test_overload_is_shed_with_503(tmp_path: Path, register_path: Path) -> None:
    async with start_stack(
        tmp_path, register_path=register_path, gateway={"max_in_flight": 2}
    ) as stack:
        token = await stack.token()
        await stack.sim_faults(latency_ms=400)
        results = await asyncio.gather(*(_get(stack, token) for _ in range(5)))
        statuses = sorted(r[0] for r in results)
        assert statuses.count(200) == 2
        shed = [r for r in results if r[0] == 503]
        assert len(shed) == 3
        assert all(r[2]["errorCode"] == "KJR-GW-OVERBELASTET" for r in shed)
        assert all(r[1]["Retry-After"] == "1" for r in shed)

"""Liveness, readiness (cached, with the breaker and JWKS), maintenance mode and JSON logs."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import structlog

from kjoretoyregister.logs import configure_logging
from stack import start_stack

ADMIN = "an-admin-token-of-enough-length"


async def test_live_and_ready(tmp_path: Path, register_path: Path) -> None:
    async with start_stack(tmp_path, register_path=register_path) as stack:
        async with stack.http.get(stack.gateway_root + "/health/live") as resp:
            assert resp.status == 200
        async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert body["checks"] == {"jwks": "ok", "svv_breaker": "ok", "maintenance": "ok"}


async def test_ready_fails_when_a_dependency_check_fails_and_caches(
    tmp_path: Path, register_path: Path
) -> None:
    from kjoretoyregister.gateway.app import GATEWAY_KEY

    calls = 0
    healthy = True

    async def database() -> None:
        nonlocal calls
        calls += 1
        if not healthy:
            raise RuntimeError("down")

    async with start_stack(
        tmp_path, register_path=register_path, gateway={"health_cache_s": 60}
    ) as stack:
        gateway = stack.extra["gateway_app"][GATEWAY_KEY]
        gateway.health.checks["database"] = database
        for _ in range(3):
            async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
                assert resp.status == 200
        assert calls == 1  # cached: a polling load balancer is not load
        healthy = False
        gateway.health._cache_s = 0
        async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["checks"]["database"] == "fail"
        assert "down" not in json.dumps(body)  # no error texts


async def test_maintenance_toggle(tmp_path: Path, register_path: Path) -> None:
    async with start_stack(
        tmp_path,
        register_path=register_path,
        gateway={"admin_token": ADMIN, "health_cache_s": 0},
    ) as stack:
        token = await stack.token()
        url = stack.gateway_root + "/gateway/admin/maintenance"
        async with stack.http.put(url, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with stack.http.put(url, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert (await resp.json()) == {"maintenance": True, "scope": "this instance"}
        async with stack.http.get(
            stack.api("sok/kjennemerke?kjennemerke=CU11297"), headers=stack.headers(token)
        ) as resp:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "60"
            assert orjson.loads(await resp.read())["errorCode"] == "KJR-GW-VEDLIKEHOLD"
        async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
            assert resp.status == 503
        async with stack.http.get(stack.gateway_root + "/health/live") as resp:
            assert resp.status == 200
        async with stack.http.delete(url, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert (await resp.json()) == {"maintenance": False, "scope": "this instance"}
        async with stack.http.get(
            stack.api("sok/kjennemerke?kjennemerke=CU11297"), headers=stack.headers(token)
        ) as resp:
            assert resp.status == 200


async def test_maintenance_from_settings_and_toggle_off_without_token(
    tmp_path: Path, register_path: Path
) -> None:
    async with start_stack(
        tmp_path, register_path=register_path, gateway={"maintenance": True}
    ) as stack:
        async with stack.http.get(stack.gateway_root + "/health/ready") as resp:
            assert resp.status == 503
        url = stack.gateway_root + "/gateway/admin/maintenance"
        async with stack.http.delete(url, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert resp.status == 404  # no admin token configured: the toggle does not exist


async def test_json_logs_carry_no_identifiers(
    tmp_path: Path, register_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = structlog.get_config()
    configure_logging("INFO", json=True)
    try:
        async with start_stack(tmp_path, register_path=register_path) as stack:
            token = await stack.token()
            capsys.readouterr()
            fnr = "01818012337"
            async with stack.http.get(
                stack.api(f"sok/fodselsnummer?fodselsnummer={fnr}"),
                headers=stack.headers(token, **{"X-Fiks-Formaal": "Parkering"}),
            ) as resp:
                await resp.read()
            async with stack.http.post(
                stack.api("bulk/kjennemerke"),
                data=orjson.dumps([{"kjennemerke": "CU11297"}]),
                headers={**stack.headers(token), "Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 200
        err = capsys.readouterr().err
    finally:
        structlog.configure(**saved)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [e for e in lines if e.get("event") == "request"]
    assert len(requests) == 2
    assert all("{fiksOrgId}" in e["route"] and "correlation_id" in e for e in requests)
    for secret in ("CU11297", fnr, stack.integrasjon_passord, token, "Parkering"):
        assert secret not in err

"""The fault switches: latency, fault rate (500), outage (503), quota (422), and /_sim."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)

ONE = [{"kjennemerke": "CU11297"}]


async def svvguid_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    body = await response.json()
    assert body["status"] == status
    assert body["svvguid"] == response.headers["Svvguid"]
    return body


async def test_outage_from_settings_then_switched_off(svv_client_factory, svv_api) -> None:
    client = await svv_client_factory(outage=True)
    bulk = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    await svvguid_error(bulk, 503)
    sok = await client.get(
        svv_api.SOK_PATH + "kjennemerke?kjennemerke=CU11297", headers=svv_api.SOK
    )
    await svvguid_error(sok, 503)
    # even unauthenticated requests see the outage first, as behind a load balancer
    await svvguid_error(await client.post(svv_api.BULK_KJENNEMERKE, json=ONE), 503)

    off = await client.post("/_sim/outage", params={"on": "0"}, headers=svv_api.ADMIN)
    assert off.status == 200
    assert (await off.json())["outage"] is False
    again = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    assert again.status == 200


async def test_outage_switched_on_at_run_time(svv_client, svv_api) -> None:
    on = await svv_client.post("/_sim/outage?on=1", headers=svv_api.ADMIN)
    assert (await on.json())["outage"] is True
    response = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    await svvguid_error(response, 503)
    state = await svv_client.get("/_sim/faults", headers=svv_api.ADMIN)
    assert (await state.json())["outage"] is True


async def test_fault_rate_one_fails_everything(svv_client_factory, svv_api) -> None:
    client = await svv_client_factory(fault_rate=1.0)
    for _ in range(3):
        response = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
        await svvguid_error(response, 500)
    # the admin routes are exempt, so the fault can be turned off again
    reset = await client.post("/_sim/faults", json={"fault_rate": 0}, headers=svv_api.ADMIN)
    assert (await reset.json())["fault_rate"] == 0
    ok = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    assert ok.status == 200


async def test_fault_rate_half_fails_some(svv_client_factory, svv_api) -> None:
    client = await svv_client_factory(fault_rate=0.5)
    statuses = set()
    for _ in range(40):
        response = await client.post(svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.OPPSLAG)
        statuses.add(response.status)
    assert statuses == {200, 500}


async def test_latency_is_added(svv_client_factory, svv_api) -> None:
    client = await svv_client_factory(latency_ms=150)
    started = time.perf_counter()
    response = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    assert response.status == 200
    assert time.perf_counter() - started >= 0.15


async def test_quota_mode_is_422_with_retry_after(svv_client_factory, svv_api) -> None:
    client = await svv_client_factory(quota_exceeded=True)
    response = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    await svvguid_error(response, 422)
    assert 0 < int(response.headers["Retry-After"]) <= 25 * 3600
    vin = await client.get(svv_api.BULK_VIN + "SISDINKY45727043", headers=svv_api.OPPSLAG)
    assert vin.status == 422
    # searches have no quota
    sok = await client.get(
        svv_api.SOK_PATH + "kjennemerke?kjennemerke=CU11297", headers=svv_api.SOK
    )
    assert sok.status == 200
    # bad credentials still come first: a quota belongs to a known consumer
    assert (await client.post(svv_api.BULK_KJENNEMERKE, json=ONE)).status == 401
    off = await client.post("/_sim/quota?on=0", headers=svv_api.ADMIN)
    assert (await off.json())["quota_exceeded"] is False
    ok = await client.post(svv_api.BULK_KJENNEMERKE, json=ONE, headers=svv_api.OPPSLAG)
    assert ok.status == 200


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/_sim/outage?on=kanskje", {}),
        ("/_sim/outage", {}),
        ("/_sim/faults", {"json": {"fault_rate": 7}}),
        ("/_sim/faults", {"json": {"nope": True}}),
        ("/_sim/faults", {"json": ["outage"]}),
        ("/_sim/faults", {"data": b"{", "headers": {"Content-Type": "application/json"}}),
    ],
)
async def test_bad_admin_requests_are_400(svv_client, svv_api, path, kwargs) -> None:
    headers = {**svv_api.ADMIN, **kwargs.pop("headers", {})}
    response = await svv_client.post(path, headers=headers, **kwargs)
    await svvguid_error(response, 400)
    state = await (await svv_client.get("/_sim/faults", headers=svv_api.ADMIN)).json()
    assert state == {"latency_ms": 0.0, "fault_rate": 0.0, "outage": False, "quota_exceeded": False}


async def test_admin_needs_credentials(svv_client) -> None:
    response = await svv_client.post("/_sim/outage?on=1")
    await svvguid_error(response, 401)

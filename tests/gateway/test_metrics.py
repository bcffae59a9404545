"""``/metrics``: the promised series exist, labelled by route template, never by identifier."""

from __future__ import annotations

from pathlib import Path

import orjson

from stack import start_stack


async def test_metrics_after_traffic(tmp_path: Path, register_path: Path) -> None:
    async with start_stack(
        tmp_path, register_path=register_path, gateway={"rate_integration_per_s": 2}
    ) as stack:
        token = await stack.token()
        for _ in range(3):
            async with stack.http.post(
                stack.api("bulk/kjennemerke"),
                data=orjson.dumps([{"kjennemerke": "CU11297"}]),
                headers={**stack.headers(token), "Content-Type": "application/json"},
            ) as resp:
                await resp.read()
        async with stack.http.get(
            stack.api("bulk/understellsnummer/SISDINKY45727043"), headers=stack.headers(token)
        ) as resp:
            await resp.read()
        async with stack.http.get(stack.gateway_root + "/metrics") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            text = await resp.text()
    route = "/kjoretoyregister/api/{fiksOrgId}/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
    assert f'kjr_gateway_requests_total{{method="POST",route="{route}",status="200"}} 2.0' in text
    assert f'kjr_gateway_requests_total{{method="POST",route="{route}",status="429"}} 1.0' in text
    assert "{understellsnummer}" in text
    assert 'kjr_gateway_upstream_duration_seconds_count{outcome="2xx",upstream="svv"}' in text
    assert "kjr_gateway_audit_commit_seconds_count 4.0" in text
    assert 'kjr_gateway_breaker_state{upstream="svv"} 0.0' in text
    assert "kjr_gateway_ratelimit_rejections_total" in text
    for identifier in (
        stack.fiks_org_id,
        stack.integrasjon_id,
        "CU11297",
        "SISDINKY45727043",
        "910000004",
    ):
        assert identifier not in text

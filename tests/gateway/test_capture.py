"""What the gateway sends upstream and passes back, seen by a tiny capturing upstream.

The capturing upstream is not a mock of our system: it stands where SVV stands and records
exactly what arrived, which the simulator does not expose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import orjson
import pytest

from kjoretoyregister.gateway.forwarding import Upstream
from stack import LOOPBACK, SVV_BASE_PATH, CaptureUpstream, Stack, serve, start_stack

V2 = SVV_BASE_PATH + "/rest/distribusjon/kjoretoy/v2.0"

ANSWER = [
    {
        "kjoretoy": {
            "kjoretoyId": {"kjennemerke": "CU 11297"},
            "eierskap": {
                "eier": {"enhet": {"organisasjonsnummer": "986130861"}},
                "leasingtaker": {"person": {"fodselsnummer": "01818012345"}},
            },
        },
        "responskoder": [],
    }
]


class Capture(CaptureUpstream):
    def __init__(self) -> None:
        super().__init__(orjson.dumps(ANSWER))
        self.headers = {"Svvguid": "svv-guid-1234", "Content-Type": "application/json"}


@pytest.fixture
async def captured(tmp_path: Path) -> AsyncIterator[tuple[Stack, Capture]]:
    capture = Capture()
    async with start_stack(tmp_path / "stack", upstream=capture.app()) as s:
        yield s, capture


async def test_credentials_never_go_upstream(captured: tuple[Stack, Capture]) -> None:
    """Caller's Authorization, IntegrasjonId/-Passord, Cookie and hop-by-hop headers stay behind."""
    stack, capture = captured
    token = await stack.token()
    headers = stack.headers(
        token, Cookie="session=abc", Connection="keep-alive, X-Secret", **{"X-Secret": "s3"}
    )
    headers["Proxy-Authorization"] = "Basic Zm9vOmJhcg=="
    async with stack.http.post(
        stack.api("bulk/kjennemerke"), json=[{"kjennemerke": "CU11297"}], headers=headers
    ) as resp:
        assert resp.status == 200
        assert orjson.loads(await resp.read()) == ANSWER
    (seen,) = capture.requests
    sent = {k.lower(): v for k, v in seen["headers"].items()}
    assert sent["authorization"] == stack.svv_auth()["Authorization"]  # the gateway's own
    for name in (
        "integrasjonid",
        "integrasjonpassord",
        "cookie",
        "x-secret",
        "proxy-authorization",
    ):
        assert name not in sent
    assert token not in repr(seen["headers"])
    assert stack.integrasjon_passord not in repr(seen["headers"])
    assert seen["raw_path"] == V2 + "/bulk/kjennemerke"
    assert orjson.loads(seen["body"]) == [{"kjennemerke": "CU11297"}]


async def test_status_body_and_headers_pass_through(captured: tuple[Stack, Capture]) -> None:
    """Status, body bytes, Content-Type, Retry-After and Svvguid come back unchanged."""
    stack, capture = captured
    capture.status = 422
    capture.body = b"Kvoten er brukt opp"
    capture.headers = {
        "Content-Type": "text/plain",
        "Retry-After": "3600",
        "Svvguid": "g-1",
        "X-Other": "no",
    }
    token = await stack.token()
    async with stack.http.post(
        stack.api("bulk/kuid"), json=[{"kuid": "3378119709"}], headers=stack.headers(token)
    ) as resp:
        assert resp.status == 422
        assert await resp.read() == b"Kvoten er brukt opp"
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.headers["Retry-After"] == "3600"
        assert resp.headers["Svvguid"] == "g-1"
        assert "X-Other" not in resp.headers
        assert resp.headers["X-Request-ID"]
    (event,) = stack.memory_audit.events
    assert event.svv_status == 422 and event.svvguid == "g-1"
    assert [i.outcome for i in event.items] == ["error"]


async def test_audit_items_from_answer(captured: tuple[Stack, Capture]) -> None:
    """A found vehicle's eier/leasingtaker identities are in the audit item; purpose recorded."""
    stack, _ = captured
    token = await stack.token()
    headers = stack.headers(
        token, **{"X-Fiks-Formaal": "Parkeringsgebyr", "X-Fiks-Saksreferanse": "2026/123"}
    )
    async with stack.http.post(
        stack.api("bulk/kjennemerke"),
        json=[{"kjennemerke": "CU11297", "dtg": "2018-11-15T23:00:00.000+01:00"}],
        headers=headers,
    ) as resp:
        assert resp.status == 200
    (event,) = stack.memory_audit.events
    (item,) = event.items
    assert (item.identifier_type, item.identifier, item.outcome) == (
        "kjennemerke",
        "CU11297",
        "found",
    )
    assert item.dtg == "2018-11-15T23:00:00.000+01:00"
    assert item.returned_identities == ("986130861", "01818012345")
    assert (event.purpose, event.case_reference) == ("Parkeringsgebyr", "2026/123")
    assert event.consumer_orgnr == stack.client.orgnr
    assert event.client_id == stack.client.client_id
    assert event.integrasjon_id == stack.integrasjon_id
    assert event.fiks_org_id == stack.fiks_org_id
    assert event.http_status == 200 and event.endpoint.endswith("/bulk/kjennemerke")


async def test_malformed_upstream_body_is_passed_and_audited_as_error(
    captured: tuple[Stack, Capture],
) -> None:
    stack, capture = captured
    capture.body = b"{not json"
    token = await stack.token()
    async with stack.http.post(
        stack.api("bulk/kjennemerke"),
        json=[{"kjennemerke": "CU11297"}, {"kjennemerke": "CU11298"}],
        headers=stack.headers(token),
    ) as resp:
        assert resp.status == 200
        assert await resp.read() == b"{not json"
    (event,) = stack.memory_audit.events
    assert [i.outcome for i in event.items] == ["error", "error"]


async def test_audit_unavailable_gives_503_and_no_data(captured: tuple[Stack, Capture]) -> None:
    """Fail closed: if the sink cannot record, the caller gets 503 and no vehicle data."""
    stack, _ = captured
    stack.memory_audit.fail = True
    token = await stack.token()
    async with stack.http.post(
        stack.api("bulk/kjennemerke"),
        json=[{"kjennemerke": "CU11297"}],
        headers=stack.headers(token),
    ) as resp:
        assert resp.status == 503
        body = await resp.json()
        assert body["errorCode"] == "KJR-GW-AUDIT-UTILGJENGELIG"
        assert "CU 11297" not in await resp.text()


async def test_sok_query_passes_through_raw(captured: tuple[Stack, Capture]) -> None:
    stack, capture = captured
    capture.body = orjson.dumps({"kjoretoyresponser": [], "responskoder": []})
    token = await stack.token()
    url = stack.api("sok/eiernavn") + "?navn=Hans%20Hansen&postnummer=0640&fra=1&antall=10"
    async with stack.http.get(url, headers=stack.headers(token)) as resp:
        assert resp.status == 200
    (seen,) = capture.requests
    assert (
        seen["raw_path"] == V2 + "/sok/eiernavn?navn=Hans%20Hansen&postnummer=0640&fra=1&antall=10"
    )
    (event,) = stack.memory_audit.events
    assert event.items[0].identifier_type == "sok/eiernavn"
    assert event.items[0].outcome == "not_found"


async def test_a_cookie_set_by_svv_is_not_sent_on_a_later_request() -> None:
    """One upstream session serves every caller: a Set-Cookie from SVV on one answer must not
    ride along upstream on the next request, which may be another municipality's.

    The upstream is addressed by host name (``localhost``): aiohttp's default jar ignores
    cookies from bare IP addresses, which would hide the fault on loopback."""
    capture = CaptureUpstream(orjson.dumps(ANSWER))
    capture.headers = {**capture.headers, "Set-Cookie": "svvsession=abc123; Path=/"}
    async with AsyncExitStack() as stack:
        root = (await serve(capture.app(), stack)).replace(LOOPBACK, "localhost")
        upstream = Upstream(root + SVV_BASE_PATH, user="fiks", password="pw")
        await upstream.start()
        stack.push_async_callback(upstream.close)
        for _ in range(2):
            answer = await upstream.forward(
                "POST",
                "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
                query="",
                body=b'[{"kjennemerke": "CU11297"}]',
                correlation_id="c-1",
                remaining_s=5,
            )
            assert answer.status == 200
    assert len(capture.requests) == 2
    for seen in capture.requests:
        assert "cookie" not in {k.lower() for k in seen["headers"]}

"""Check 4 and the edges: 400/413 for bad input, 404/405, traversal, correlation ids.

Bad input never reaches SVV (the capturing upstream stays empty) and never causes a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from yarl import URL

from stack import SVV_BASE_PATH, CaptureUpstream, Stack, start_stack

MAX_BODY = 4096


# One stack for the module: these tests only read, and the fixture below resets what they see.
pytestmark = pytest.mark.asyncio(loop_scope="module")
Env = tuple[Stack, CaptureUpstream, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    capture = CaptureUpstream(orjson.dumps([{"responskoder": []}]))
    gateway = {"max_body_bytes": MAX_BODY, "max_bulk_items": 5}
    workdir = tmp_path_factory.mktemp("input")
    async with start_stack(workdir, upstream=capture.app(), gateway=gateway) as s:
        yield s, capture, await s.token()


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared: Env) -> Env:
    stack, capture, _ = shared
    capture.requests.clear()
    stack.memory_audit.events.clear()
    return shared


async def _call(
    stack: Stack, token: str, method: str, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    headers = {**stack.headers(token), **kw.pop("headers", {})}
    async with stack.http.request(method, URL(url, encoded=True), headers=headers, **kw) as resp:
        text = await resp.read()
        return resp.status, orjson.loads(text) if text else {}


class TestBadInput:
    @pytest.mark.parametrize(
        ("tail", "body"),
        [
            ("bulk/kjennemerke", b"[{"),  # not JSON
            ("bulk/kjennemerke", b'{"kjennemerke": "CU11297"}'),  # not a list
            ("bulk/kjennemerke", b"[]"),
            ("bulk/kjennemerke", b'[{"kjennemerke": "CU<script>"}]'),
            ("bulk/kjennemerke", b'[{"kjennemerke": "CU11297", "dtg": "2018-11-15"}]'),
            ("bulk/kjennemerke", orjson.dumps([{"kjennemerke": "CU11297"}] * 6)),  # > max items
            ("bulk/kuid", b'[{"kuid": "abc"}]'),
            ("bulk/kuid", b""),
            ("bulk/kuid", b"\xff\xfe"),
        ],
    )
    async def test_bulk_body_400(self, env: Env, tail: str, body: bytes) -> None:
        stack, capture, token = env
        status, err = await _call(
            stack,
            token,
            "POST",
            stack.api(tail),
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert status == 400, err
        assert err["errorCode"] == "KJR-GW-VALIDERING"
        assert set(err) >= {"timestamp", "status", "error", "errorId", "path", "message"}
        assert capture.requests == []

    @pytest.mark.parametrize(
        "query",
        [
            "sok/kjennemerke?kjennemerke=CU11297&ukjent=1",  # not allow-listed
            "sok/kjennemerke?kjennemerke=CU11297&kjennemerke=CU11298",  # repeated
            "sok/kjennemerke",  # required missing
            "sok/fodselsnummer?fodselsnummer=123",
            "sok/organisasjonsnummer?organisasjonsnummer=98613086X",
            "sok/eiernavn?navn=Hans&fra=-1",
            "sok/kunde?eiertype=ALLE",
            "bulk/understellsnummer/SISDINKY45727043?dtg=i%20g%C3%A5r",
            "bulk/understellsnummer/SISDINKY45727043?x=1",
        ],
    )
    async def test_query_400(self, env: Env, query: str) -> None:
        stack, capture, token = env
        status, err = await _call(stack, token, "GET", stack.api(query))
        assert status == 400, err
        assert capture.requests == []

    async def test_oversized_body_is_413(self, env: Env) -> None:
        stack, capture, token = env
        body = orjson.dumps([{"kjennemerke": "CU11297"}] * 400)
        assert len(body) > MAX_BODY
        status, err = await _call(stack, token, "POST", stack.api("bulk/kjennemerke"), data=body)
        assert status == 413 and err["errorCode"] == "KJR-GW-FOR-STOR"
        assert capture.requests == []

    async def test_oversized_chunked_body_is_413(self, env: Env) -> None:
        """No Content-Length (chunked): the limit is enforced while reading."""
        stack, capture, token = env

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

        status, _ = await _call(stack, token, "POST", stack.api("bulk/kjennemerke"), data=chunks())
        assert status == 413
        assert capture.requests == []

    async def test_bad_input_is_audited(self, env: Env) -> None:
        stack, _, token = env
        await _call(stack, token, "POST", stack.api("bulk/kjennemerke"), data=b"[{")
        (event,) = stack.memory_audit.events
        assert event.http_status == 400 and event.items == () and event.svv_status is None


class TestTraversal:
    # Encoded and literal dot-segments and slashes in the one free path segment.
    @pytest.mark.parametrize(
        "segment",
        [
            "..%2F..%2Fadmin",
            "..%2f..%2f..%2f_sim%2ffaults",
            "%2e%2e",
            "%2e%2e%2f%2e%2e%2fsok%2ffodselsnummer",
            "..%5C..%5Cadmin",
            "SISDINKY%2F..%2F..",
            "%252e%252e%252f",
        ],
    )
    async def test_encoded_traversal_never_reaches_another_path(
        self, env: Env, segment: str
    ) -> None:
        stack, capture, token = env
        status, _ = await _call(stack, token, "GET", stack.api("bulk/understellsnummer/" + segment))
        assert status == 400
        assert capture.requests == []

    @pytest.mark.parametrize(
        "tail",
        [
            "bulk/understellsnummer/../../sok/fodselsnummer?fodselsnummer=01818012345",
            "bulk/understellsnummer/SISDINKY1/../../../../_sim/faults",
            "bulk/../sok/kunde?eiertype=BEGGE",
        ],
    )
    async def test_literal_dot_segments_are_404(self, env: Env, tail: str) -> None:
        stack, capture, token = env
        status, err = await _call(stack, token, "GET", stack.api(tail))
        assert status in (400, 404), err
        assert capture.requests == []

    async def test_valid_vin_is_quoted_into_one_segment(self, env: Env) -> None:
        stack, capture, token = env
        status, _ = await _call(
            stack, token, "GET", stack.api("bulk/understellsnummer/SISDINKY45727043")
        )
        assert status == 200
        (seen,) = capture.requests
        assert seen["raw_path"] == (
            SVV_BASE_PATH
            + "/rest/distribusjon/kjoretoy/v2.0/bulk/understellsnummer/SISDINKY45727043"
        )


class TestEdges:
    @pytest.mark.parametrize(
        "path",
        ["/", "/admin", "/kjoretoyregister/api/", "/ws/no/vegvesen/kjoretoy/felles/v2/_sim/faults"],
    )
    async def test_unknown_path_is_fiks_404(self, env: Env, path: str) -> None:
        stack, capture, token = env
        status, err = await _call(stack, token, "GET", stack.gateway_root + path)
        assert status == 404 and err["errorCode"] == "KJR-GW-UKJENT-STI"
        assert capture.requests == []

    @pytest.mark.parametrize(
        "tail",
        [
            "bulk/understellsnummer/AB%0ACD",  # a newline once decoded (found by schemathesis)
            "bulk/understellsnummer/%C2%97d%C2%AB%0A%C3%8E%28-",
            "sok/kjennemerke%0A",
        ],
    )
    async def test_control_characters_in_the_path_get_a_fiks_body(
        self, env: Env, tail: str
    ) -> None:
        """aiohttp's own plain-text 404 must never answer: every refusal is a Fiks error body."""
        stack, capture, token = env
        status, err = await _call(stack, token, "GET", stack.api(tail))
        assert status in (400, 404), err
        assert err["errorCode"].startswith("KJR-GW-")
        assert capture.requests == []

    async def test_wrong_method_is_405(self, env: Env) -> None:
        stack, _, token = env
        status, err = await _call(stack, token, "GET", stack.api("bulk/kjennemerke"))
        assert status == 405 and err["errorCode"] == "KJR-GW-METODE"

    async def test_correlation_id_is_kept_or_made(self, env: Env) -> None:
        stack, capture, token = env
        url = stack.api("bulk/understellsnummer/SISDINKY45727043")
        async with stack.http.get(
            url, headers={**stack.headers(token), "X-Request-ID": "sak-2026-0001"}
        ) as r:
            assert r.headers["X-Request-ID"] == "sak-2026-0001"
        async with stack.http.get(
            url, headers={**stack.headers(token), "X-Request-ID": "bad id\u00e6"}
        ) as r:
            made = r.headers["X-Request-ID"]
            assert made != "bad id\u00e6" and len(made) == 36
        assert capture.requests[0]["headers"]["X-Request-ID"] == "sak-2026-0001"
        async with stack.http.post(
            stack.api("bulk/kuid"),
            data=b"[",
            headers={**stack.headers(token), "X-Request-ID": "sak-2026-0002"},
        ) as r:
            assert (await r.json())["errorId"] == "sak-2026-0002"

    async def test_purpose_header_too_long_is_400(self, env: Env) -> None:
        stack, capture, token = env
        status, _ = await _call(
            stack,
            token,
            "GET",
            stack.api("bulk/understellsnummer/SISDINKY45727043"),
            headers={"X-Fiks-Formaal": "x" * 501},
        )
        assert status == 400
        assert capture.requests == []


async def test_logs_carry_no_identifiers_or_secrets(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    """Operational logs show the route template and status, never plates, VINs, fnr or secrets."""
    stack, _, token = env
    capsys.readouterr()
    await _call(stack, token, "GET", stack.api("bulk/understellsnummer/SISDINKY45727043"))
    await _call(stack, token, "GET", stack.api("sok/fodselsnummer?fodselsnummer=01818012345"))
    await _call(
        stack, token, "POST", stack.api("bulk/kjennemerke"), json=[{"kjennemerke": "CU11297"}]
    )
    await _call(stack, token, "POST", stack.api("bulk/kjennemerke"), data=b"[{")
    out = "".join(capsys.readouterr())
    assert "bulk/understellsnummer/{understellsnummer}" in out
    for secret in ("SISDINKY45727043", "01818012345", "CU11297", token, stack.integrasjon_passord):
        assert secret not in out


async def test_malformed_request_line_is_refused_without_logging_it(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp refuses an unparsable request itself; its log must not repeat the request line."""
    stack, capture, _ = env
    host, port = stack.gateway_root.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        "GET /kjoretoyregister/api/x/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn?navn=MØLLER "
        "HTTP/1.1\r\nHost: x\r\nIntegrasjonPassord: hemmelig-CU11297\r\n\r\n".encode()
    )
    await writer.drain()
    answer = await reader.read(200)
    writer.close()
    assert answer.split(b"\r\n")[0].endswith(b"400 Bad Request"), answer[:40]
    assert capture.requests == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "MØLLER" not in logged and "CU11297" not in logged and "hemmelig" not in logged

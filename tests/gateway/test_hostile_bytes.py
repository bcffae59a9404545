"""Hostile bytes at the gateway's edge, sent over raw sockets (issue 17).

An HTTP library refuses to send a raw 0xFF in a header or a path, so schemathesis cannot find
these; here the exact bytes go on the wire. Every answer must be the documented 4xx with the
Fiks error body, never a 500 or aiohttp's own text page, and nothing may reach SVV.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio

from kjoretoyregister.httpserver import EdgeLimits
from rawhttp import RawAnswer, exchange, request
from stack import CaptureUpstream, Stack, start_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
EDGE = EdgeLimits(header_timeout_s=0.6, body_timeout_s=0.6, max_connections_per_client=20)
TAIL = b"/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
Env = tuple[Stack, CaptureUpstream, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    capture = CaptureUpstream(orjson.dumps([{"responskoder": []}]))
    async with start_stack(
        tmp_path_factory.mktemp("hostile"), upstream=capture.app(), edge=EDGE
    ) as s:
        yield s, capture, await s.token()


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared: Env) -> Env:
    shared[1].requests.clear()
    return shared


def _where(stack: Stack) -> tuple[str, int]:
    host, port = stack.gateway_root.removeprefix("http://").split(":")
    return host, int(port)


def _headers(stack: Stack, token: str, **override: bytes) -> list[tuple[bytes, bytes]]:
    values = {
        b"Authorization": b"Bearer " + token.encode(),
        b"IntegrasjonId": stack.integrasjon_id.encode(),
        b"IntegrasjonPassord": stack.integrasjon_passord.encode(),
    }
    for name, value in override.items():
        values[name.replace("_", "-").encode()] = value
    return list(values.items())


def _path(stack: Stack, tail: bytes = TAIL, org: bytes | None = None) -> bytes:
    return b"/kjoretoyregister/api/" + (org or stack.fiks_org_id.encode()) + tail


def _assert_fiks(answer: RawAnswer, status: int) -> dict[str, object]:
    assert answer.status == status, (answer.status, answer.body[:200])
    assert answer.headers.get("content-type", "").startswith("application/json")
    body = answer.json()
    assert body["status"] == status and body["errorId"]
    assert answer.headers.get("x-request-id") == body["errorId"]
    return body  # type: ignore[no-any-return]


BODY = b'[{"kjennemerke": "CU11297"}]'


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("Authorization", b"Bearer \xff", 401),
        ("Authorization", b"\xffBearer abc", 401),
        ("Authorization", b"Bearer eyJ\xff.eyJ.sig", 401),
        ("IntegrasjonId", b"\xff", 401),
        ("IntegrasjonPassord", b"\xff\xfe", 401),
        ("IntegrasjonPassord", "passord-æøå".encode(), 401),
        ("X_Fiks_Formaal", b"\xff", 400),
        ("X_Fiks_Saksreferanse", b"sak\x7f", 400),
    ],
)
async def test_bad_bytes_in_headers_are_refused_with_the_fiks_body(
    env: Env, header: str, value: bytes, status: int
) -> None:
    stack, capture, token = env
    raw = request(
        "POST",
        _path(stack),
        [
            *_headers(stack, token, **{header: value}),
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(BODY)).encode()),
        ],
        BODY,
    )
    answer = await exchange(*_where(stack), raw)
    body = _assert_fiks(answer, status)
    assert "\ufffd" not in str(body) and "\\udc" not in answer.body.decode()
    assert capture.requests == []


async def test_a_norwegian_purpose_in_utf8_is_accepted(env: Env) -> None:
    stack, capture, token = env
    raw = request(
        "POST",
        _path(stack),
        [
            *_headers(stack, token, X_Fiks_Formaal="Parkeringsgebyr, Løkkeveien".encode()),
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(BODY)).encode()),
        ],
        BODY,
    )
    answer = await exchange(*_where(stack), raw)
    assert answer.status == 200, answer.body[:200]
    assert len(capture.requests) == 1


@pytest.mark.parametrize(
    "target",
    [
        b"ORG\xff",  # raw byte in fiksOrgId
        b"/rest/distribusjon/kjoretoy/v2.0/bulk/understellsnummer/SIS\xffDINKY",
        b"/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn?navn=M\xd8LLER",
        b"/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn?navn=a b",
    ],
)
async def test_bad_bytes_in_the_request_line_get_the_fiks_body_and_no_echo(
    env: Env, target: bytes
) -> None:
    stack, capture, token = env
    path = _path(stack, org=target) if target.startswith(b"ORG") else _path(stack, tail=target)
    answer = await exchange(*_where(stack), request("GET", path, _headers(stack, token)))
    body = _assert_fiks(answer, 400)
    assert b"DINKY" not in answer.body and b"LLER" not in answer.body
    assert "HTTP/1.1" in str(body["message"])  # says what is valid
    assert capture.requests == []


@pytest.mark.parametrize(
    "framing",
    [
        [(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")],
        [(b"Content-Length", b"5"), (b"Content-Length", b"6")],
        [(b"Content-Length", b"-1")],
        [(b"Content-Length", b"99999999999999999999999")],
        [(b"Transfer-Encoding", b"chunked, gzip")],
    ],
)
async def test_smuggling_shapes_are_refused_before_any_check(
    env: Env, framing: list[tuple[bytes, bytes]]
) -> None:
    stack, capture, token = env
    raw = request("POST", _path(stack), [*_headers(stack, token), *framing], b"0\r\n\r\n")
    answer = await exchange(*_where(stack), raw)
    assert 400 <= answer.status < 500, answer.status
    _assert_fiks(answer, answer.status)
    assert capture.requests == []


async def test_a_body_that_never_arrives_is_answered_408_in_time(env: Env) -> None:
    stack, capture, token = env
    raw = request(
        "POST",
        _path(stack),
        [
            *_headers(stack, token),
            (b"Content-Length", b"100"),
            (b"Content-Type", b"application/json"),
        ],
        b"[",
    )
    answer = await exchange(*_where(stack), raw, timeout_s=5)
    _assert_fiks(answer, 408)
    assert answer.seconds < EDGE.body_timeout_s + 2
    assert capture.requests == []


async def test_a_head_that_never_ends_is_closed_in_time(env: Env) -> None:
    stack, _, _ = env
    answer = await exchange(
        *_where(stack), b"GET /health/live HTTP/1.1\r\nHost: x\r\n", timeout_s=5
    )
    _assert_fiks(answer, 408)
    assert answer.seconds < EDGE.header_timeout_s + 2


async def test_a_client_hanging_up_mid_body_is_not_an_unhandled_error(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, capture, token = env
    capsys.readouterr()
    _reader, writer = await asyncio.open_connection(*_where(stack))
    writer.write(
        request("POST", _path(stack), [*_headers(stack, token), (b"Content-Length", b"100")], b"[{")
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.transport.abort()
    await asyncio.sleep(0.3)
    out = "".join(capsys.readouterr())
    assert "unhandled" not in out and "Traceback" not in out
    assert capture.requests == []
    # and it still serves
    answer = await exchange(*_where(stack), request("GET", b"/health/live", []))
    assert answer.status == 200


async def test_connections_per_client_are_bounded_and_freed(env: Env) -> None:
    stack, _, _ = env
    host, port = _where(stack)
    held = [
        await asyncio.open_connection(host, port) for _ in range(EDGE.max_connections_per_client)
    ]
    try:
        over = await exchange(host, port, request("GET", b"/health/live", []))
        _assert_fiks(over, 503)
    finally:
        for _, w in held:
            w.close()
        await asyncio.sleep(0.2)
    answer = await exchange(host, port, request("GET", b"/health/live", []))
    assert answer.status == 200

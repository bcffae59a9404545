"""Raw-socket fuzzing of every server's edge (issue 17).

Targets: the gateway, the portal, the Konfigurasjon admin API, the SVV simulator and the
Maskinporten stand-in.

Hypothesis builds requests no HTTP library would send: request lines and header names/values
with invalid UTF-8, control characters and CRLF inside values, huge and negative lengths,
broken chunked framing. Bounded (a fixed number of examples per server, loopback only, short
deadlines). For every example: no 5xx, no answer slower than the deadline allows, nothing
reaches SVV (no example carries valid credentials), and the server still answers afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from kjoretoyregister.config import KonfigSettings, SvvSettings, load_settings
from kjoretoyregister.httpserver import EdgeLimits
from kjoretoyregister.konfig.admin_api import create_app as create_admin
from kjoretoyregister.portal.cli import app_from_settings as create_portal
from kjoretoyregister.store.db import make_engine, make_session_factory, upgrade
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.server import create_app as create_simulator
from rawhttp import parse
from stack import CaptureUpstream, ensure_register, serve, start_stack

EDGE = EdgeLimits(header_timeout_s=0.25, body_timeout_s=0.25, max_connections_per_client=64)
EXAMPLES = 200
# The slowest legitimate answer is a deadline firing; allow for a busy 2-core machine.
HANG_S = 3.0

_PATHS = [
    b"/kjoretoyregister/api/ORG/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
    b"/kjoretoyregister/api/ORG/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn?navn=",
    b"/portal/",
    b"/portal/oppslag",
    b"/konfigurasjon/api/v1/organisasjoner",
    b"/health/live",
    b"/ws/no/vegvesen/kjoretoy/felles/v2/kjoretoyoppslag/bulk/kjennemerke",
    b"/token",
    b"/jwk",
    b"/",
]
_HEADER_NAMES = [
    b"Authorization",
    b"IntegrasjonId",
    b"IntegrasjonPassord",
    b"X-Fiks-Formaal",
    b"X-Request-ID",
    b"Content-Type",
    b"Cookie",
    b"Origin",
    b"Host",
]
_nasty = st.binary(max_size=40) | st.sampled_from(
    [b"\xff", b"\x00", b"\r\n", b"\r\nX-Injected: 1", b"\xc3\x28", b"%ff", b"\x7f", b" "]
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"G\xffT", b""]))
    target = draw(st.sampled_from(_PATHS)) + draw(_nasty)
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.1\x00"]))
    lines = [method + b" " + target + b" " + version, b"Host: 127.0.0.1"]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(_HEADER_NAMES) | st.binary(min_size=1, max_size=12))
        prefix = draw(st.sampled_from([b"", b"Bearer ", b"Basic ", b"bearer eyJ"]))
        lines.append(name + b": " + prefix + draw(_nasty))
    body = draw(st.binary(max_size=64))
    framing = draw(
        st.sampled_from(["length", "short-body", "wrong-length", "chunked", "both", "none"])
    )
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
    elif framing == "short-body":  # promises more than it sends: the body deadline must fire
        lines.append(b"Content-Length: %d" % (len(body) + draw(st.integers(1, 10_000))))
    elif framing == "wrong-length":
        value = draw(st.sampled_from([b"-1", b"99999999999999999999", b"1e3", b"+5", b"5, 6"]))
        lines.append(b"Content-Length: " + value)
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        size = draw(st.sampled_from([b"%x" % len(body), b"zz", b"-1", b"ffffffffffffffff"]))
        body = size + b"\r\n" + body + b"\r\n0\r\n\r\n"
    elif framing == "both":
        lines += [b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _exchange(port: int, raw: bytes) -> tuple[int, str, float]:
    """Send ``raw``; (status or 0 if closed unanswered or -1 if hung, content type, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_S) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            return 0, "", time.monotonic() - started
        received = b""
        try:
            while True:
                part = sock.recv(65_536)
                if not part:
                    break
                received += part
                answer = parse(received)
                length = int(answer.headers.get("content-length", "-1"))
                if answer.status and length >= 0 and len(answer.body) >= length:
                    break
        except TimeoutError:
            return -1, "", time.monotonic() - started
        except OSError:
            pass
    answer = parse(received)
    return answer.status, answer.headers.get("content-type", ""), time.monotonic() - started


class Servers:
    """Gateway (with a capturing upstream), portal and admin API on one loop in a thread."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.capture = CaptureUpstream(orjson.dumps([]))
        self.ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with (
            start_stack(self.workdir / "gw", upstream=self.capture.app(), edge=EDGE) as stack,
            AsyncExitStack() as apps,
        ):
            self.ports["gateway"] = _port(stack.gateway_root)
            self.ports["maskinporten"] = _port(stack.mp_token_url.removesuffix("/token"))
            register = Register(ensure_register(self.workdir / "register.sqlite", vehicles=20))
            apps.callback(register.close)
            simulator = create_simulator(
                register, SvvSettings(users=[SecretStr("fiks:" + "y" * 20)])
            )
            self.ports["svv"] = _port(await serve(simulator, apps, edge=EDGE))
            portal = create_portal(
                load_settings(data_dir=self.workdir / "portal", portal={"cookie_secure": False})
            )
            self.ports["portal"] = _port(await serve(portal, apps, edge=EDGE))
            url = f"sqlite:///{self.workdir / 'konfig.db'}"
            upgrade(url)
            admin = create_admin(
                make_session_factory(make_engine(url)),
                KonfigSettings(admin_tokens=[SecretStr("fuzz:" + "x" * 32)]),
            )
            self.ports["admin"] = _port(await serve(admin, apps, edge=EDGE))
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Servers:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None or not self.ports:
            raise RuntimeError("servers did not start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def _port(root: str) -> int:
    return int(root.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with Servers(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@pytest.mark.parametrize("target", ["gateway", "portal", "admin", "svv", "maskinporten"])
def test_hostile_requests_get_no_5xx_and_no_hang(servers: Servers, target: str) -> None:
    port = servers.ports[target]
    seen: dict[int, int] = {}

    @given(raw=hostile_requests())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def one(raw: bytes) -> None:
        status, content_type, seconds = _exchange(port, raw)
        seen[status] = seen.get(status, 0) + 1
        assert status != -1, f"hung for {seconds:.1f} s on {raw[:120]!r}"
        assert status < 500, f"{status} on {raw[:120]!r}"
        # aiohttp's own refusal page is text/plain and echoes the request line; ours is JSON.
        assert not content_type.startswith("text/plain"), f"{status} text page on {raw[:120]!r}"

    one()
    assert servers.capture.requests == [], "a request without credentials reached SVV"
    status, _, _ = _exchange(port, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status in (200, 404), "the server stopped serving"
    # The generator must reach the parser's refusals, not only clean 404s.
    assert any(400 <= s < 500 for s in seen), seen

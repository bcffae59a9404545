"""How every kjoretoyregister server meets the network: aiohttp, with our edge rules.

aiohttp answers what its parser refuses (a raw ``0xFF`` in the path, a broken header, both
``Content-Length`` and ``Transfer-Encoding``) with its own ``text/plain`` page that echoes the
request line, and it waits forever for a request head or body that never completes. Here:

- parser refusals and last-resort errors get the Fiks error body with a fresh ``errorId``,
  echo nothing, and log one line without request data (:meth:`_Protocol.handle_error`);
- a request head must arrive within ``header_timeout_s`` of its first byte, else the
  connection is answered 408 and closed; a body within ``body_timeout_s`` of its head, else the
  handler's read fails with :class:`BodyTimeout` (408);
- at most ``max_connections_per_client`` open connections per client address (503 beyond);
- a client that hangs up mid-body is logged as gone, not as an unhandled error;
- aiohttp's plain-text pages for routing errors (404, 405, …) become Fiks bodies too
  (:func:`fiks_http_errors`, put in front of every app the runner serves);
- :func:`run` replaces ``web.run_app`` and reports a port it cannot bind as :class:`BindError`
  (one line at the CLI), not a traceback;
- a big ready-made body (a bulk answer) goes out in pieces without extra copies
  (:class:`ChunkedBody`).

The hooks are aiohttp's ``RequestHandler.handle_error`` and ``Server.__call__`` (the protocol
factory): not public API, so ``tests/test_httpserver.py`` drives them with raw sockets and
fails if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from aiohttp.web_protocol import RequestHandler

from kjoretoyregister.fikserror import fiks_error_body, reason_phrase
from kjoretoyregister.logs import get_logger

_log = get_logger("kjoretoyregister.http")

BAD_REQUEST_MESSAGE = (
    "Ugyldig HTTP-forespørsel: forespørselslinjen og headerne må være gyldig HTTP/1.1 "
    "(sti og spørring i ASCII, prosent-kodet; én Content-Length eller chunked, ikke begge)"
)
_MESSAGES = {
    408: "Forespørselen kom ikke fram i tide",
    413: "Forespørselen er for stor",
    431: "Headerne er for store",
    500: "Intern feil",
    503: "For mange samtidige forbindelser fra samme adresse",
}


class BodyTimeout(Exception):
    """The request body did not arrive within ``body_timeout_s`` (answered 408).

    Deliberately not a ``TimeoutError``: aiohttp turns those into a 504.
    """


class BindError(OSError):
    """The server could not listen on ``host:port`` (mostly: the port is taken)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """The deadlines and per-client limit (``KJR_HTTP__*``; see :class:`HttpSettings`)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_connections_per_client: int = 256

    @classmethod
    def from_settings(cls, http: Any) -> EdgeLimits:
        return cls(http.header_timeout_s, http.body_timeout_s, http.max_connections_per_client)


def _fiks_bytes(status: int, message: str, path: str = "/") -> tuple[bytes, str]:
    error_id = str(uuid.uuid4())
    return orjson.dumps(fiks_error_body(status, message, path, None, error_id)), error_id


def raw_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response, for writing straight to a transport."""
    body, error_id = _fiks_bytes(status, message)
    head = (
        f"HTTP/1.1 {status} {reason_phrase(status)}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {error_id}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _client_gone(exc: BaseException | None) -> bool:
    return isinstance(exc, ConnectionError)


class _Protocol(RequestHandler):
    """aiohttp's per-connection protocol with our error page, deadlines and client limit."""

    __slots__ = ("_edge", "_head_timer", "_heads", "_heads_at_arm", "_peer")

    def __init__(self, manager: _Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._edge: EdgeLimits = manager.edge
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads = 0
        self._heads_at_arm = 0
        self._peer: str | None = None

    # -- connections per client address --------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        counts = self._manager_counts()
        limit = self._edge.max_connections_per_client
        if limit and counts[host] >= limit:
            _log.warning("http.too_many_connections", limit=limit)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(raw_error(503, _MESSAGES[503]))
            transport.close()
            return
        counts[host] += 1
        self._peer = host

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._peer is not None:
            counts = self._manager_counts()
            counts[self._peer] -= 1
            if counts[self._peer] <= 0:
                del counts[self._peer]
            self._peer = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _manager_counts(self) -> Counter[str]:
        manager = self._manager
        assert isinstance(manager, _Server)
        return manager.peers

    # -- the request head deadline ---------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Armed by the first bytes of a head; a head that completes in time bumps _heads
        # (in note_head) and the timer then finds nothing to do.
        if self._head_timer is None and not self._request_in_progress:
            self._heads_at_arm = self._heads
            self._head_timer = self._loop.call_later(
                self._edge.header_timeout_s, self._head_deadline
            )

    def note_head(self) -> None:
        self._heads += 1

    def _head_deadline(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or self._request_in_progress or self._heads != self._heads_at_arm:
            return
        _log.info("http.header_timeout", timeout_s=self._edge.header_timeout_s)
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(raw_error(408, _MESSAGES[408]))
        transport.close()

    # -- our error page --------------------------------------------------------------------
    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, BodyTimeout):
            status, text = 408, _MESSAGES[408]
            _log.info("http.body_timeout", timeout_s=self._edge.body_timeout_s)
        elif _client_gone(exc):
            status, text = 400, "Klienten lukket forbindelsen"
            _log.info("http.client_gone")
        elif status >= 500:
            text = _MESSAGES.get(status, reason_phrase(status))
            # The type only: an exception's text may hold request data.
            _log.error("http.unhandled", status=status, error=type(exc).__name__ if exc else None)
        else:
            text = BAD_REQUEST_MESSAGE if status == 400 else _MESSAGES.get(status, "Ugyldig")
            _log.info("http.rejected", status=status, reason=type(exc).__name__ if exc else None)
        body, error_id = _fiks_bytes(status, text)
        response = web.Response(
            status=status,
            body=body,
            content_type="application/json",
            headers={"X-Request-ID": error_id},
        )
        response.force_close()
        return response


class _Server(web.Server):
    """aiohttp's protocol factory, making :class:`_Protocol` and watching each body's deadline."""

    # Set by :func:`_adopt` after the class swap (web.Server has no __slots__).
    edge: EdgeLimits
    peers: Counter[str]

    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


def _adopt(server: web.Server, edge: EdgeLimits) -> None:
    """Turn aiohttp's ``Server`` into ours in place, keeping everything the app set up."""
    server.__class__ = _Server
    assert isinstance(server, _Server)
    server.edge = edge
    server.peers = Counter()
    inner = server.request_factory
    loop = asyncio.get_running_loop()

    def request_factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
        if isinstance(protocol, _Protocol):
            protocol.note_head()
        if not payload.is_eof():
            loop.call_later(edge.body_timeout_s, _body_deadline, payload)
        return inner(message, payload, protocol, writer, task)

    server.request_factory = request_factory


def _body_deadline(payload: Any) -> None:
    if not payload.is_eof() and payload.exception() is None:
        payload.set_exception(BodyTimeout())


_HTTP_MESSAGES = {404: "Ukjent sti", 405: "Metoden er ikke tillatt for denne stien"}


@web.middleware
async def fiks_http_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's default ``text/plain`` error pages (unknown path, wrong method) as Fiks bodies.

    Only the defaults: an app that answers an error as HTML (the portal's pages) or JSON keeps
    its own body.
    """
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type != "text/plain":
            raise
        default = f"{exc.status}: {exc.reason}"
        text = exc.text if exc.text and exc.text != default else None
        message = text or _HTTP_MESSAGES.get(exc.status, reason_phrase(exc.status))
        body, error_id = _fiks_bytes(exc.status, message, request.path)
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        headers["X-Request-ID"] = error_id
        return web.Response(
            status=exc.status, body=body, content_type="application/json", headers=headers
        )


class EdgeRunner(web.AppRunner):
    """``web.AppRunner`` whose server speaks our edge rules (see the module docstring)."""

    def __init__(self, app: web.Application, edge: EdgeLimits | None = None, **kwargs: Any):
        kwargs.setdefault("access_log", None)  # access lines would carry plates and paths
        super().__init__(app, **kwargs)
        self._edge = edge or EdgeLimits()
        if fiks_http_errors not in app.middlewares:
            app.middlewares.insert(0, fiks_http_errors)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        _adopt(server, self._edge)
        return server


async def start_site(
    runner: web.AppRunner, host: str, port: int, *, reuse_port: bool = False
) -> int:
    """Listen on ``host:port`` (0 = any free port); the port bound. :class:`BindError` if not."""
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port)
    try:
        await site.start()
    except OSError as exc:
        raise BindError(host, port, exc.strerror or str(exc)) from None
    return int(runner.addresses[-1][1])


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    edge: EdgeLimits,
    reuse_port: bool,
    ready: Callable[[int], None] | None,
) -> None:
    runner = EdgeRunner(app, edge, handle_signals=True)
    await runner.setup()
    try:
        bound = await start_site(runner, host, port, reuse_port=reuse_port)
        # What exists now (modules, the app, its pools and caches) lives as long as the
        # process: keep it out of full collections, which otherwise walk it all. In the
        # gateway one fell on every ~7th 1,000-plate answer and cost it ~90 ms.
        gc.freeze()
        if ready is not None:
            ready(bound)
        await asyncio.Event().wait()  # until SIGINT/SIGTERM raise GracefulExit
    finally:
        await runner.cleanup()


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    edge: EdgeLimits | None = None,
    reuse_port: bool = False,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, like ``web.run_app`` but with our edge rules.

    Raises:
        BindError: ``host:port`` could not be bound (nothing was served).
    """
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(_serve(app, host, port, edge or EdgeLimits(), reuse_port, ready))


#: Bodies bigger than this are better written as :class:`ChunkedBody`, in pieces this size.
CHUNK_BYTES = 1 << 20


class ChunkedBody(Payload):
    """A big ready-made body (a 1,000-plate bulk answer is ~9.5 MB) written in views of
    :data:`CHUNK_BYTES`, with a Content-Length, as a plain body is.

    Written whole, aiohttp joins the headers to the body and asyncio copies the part the
    socket did not take at once, twice: three copies of the answer on the event loop (~3 ms
    per 9.5 MB here, py-spy on ``svv serve``). In pieces, only what waits for the socket is
    copied, and other requests get the loop between pieces.
    """

    _value: bytes

    def __init__(self, value: bytes, *, content_type: str) -> None:
        super().__init__(value, content_type=content_type)
        self._size = len(value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self._value

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = memoryview(self._value)
        if content_length is not None:
            view = view[:content_length]
        for start in range(0, len(view), CHUNK_BYTES):
            await writer.write(view[start : start + CHUNK_BYTES])

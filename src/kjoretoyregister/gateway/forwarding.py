"""The upstream hop to SVV: one shared keep-alive pool, our own Basic credentials, bytes through.

The request upstream is built from scratch: the caller's headers (``Authorization``,
``IntegrasjonId``, ``IntegrasjonPassord``, ``Cookie``, hop-by-hop headers, everything else)
never go up; only ``Content-Type`` of a body, ``Accept``, the gateway's own Basic credentials and
the correlation id do. The answer's status, body bytes, ``Content-Type``, ``Retry-After`` and
``Svvguid`` come back unchanged.

aiohttp's exceptions are translated to ours in :func:`map_upstream_errors` and nowhere else.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
from yarl import URL

from kjoretoyregister.gateway.errors import UpstreamTimeout, UpstreamUnavailable

PASSED_BACK_HEADERS = ("Content-Type", "Retry-After", "Svvguid")


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """SVV's answer as the caller will get it."""

    status: int
    body: bytes
    headers: dict[str, str]  # only PASSED_BACK_HEADERS that were present

    @property
    def svvguid(self) -> str | None:
        """SVV's support correlation id, from the header if SVV sent one."""
        return self.headers.get("Svvguid")


@contextmanager
def map_upstream_errors() -> Iterator[None]:
    """Translate aiohttp/asyncio errors of the upstream call to gateway errors."""
    try:
        yield
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout() from exc
    except aiohttp.ClientError as exc:
        # Connection refused, reset, DNS, a dropped keep-alive connection, a bad status line.
        raise UpstreamUnavailable() from exc


class Upstream:
    """The SVV client: base URL, credentials, timeouts and the shared session.

    Args:
        base_url: SVV base up to and including ``/felles/v2`` (no trailing slash needed).
        user, password: the gateway's own SVV Basic credentials.
        pool_size: keep-alive connections in the shared pool.
        connect_timeout_s, read_timeout_s: per-connection and per-read timeouts.
    """

    def __init__(
        self,
        base_url: str,
        *,
        user: str,
        password: str,
        pool_size: int = 100,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("svv_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session (created by :meth:`start`)."""
        if self._session is None:
            raise RuntimeError("Upstream.start() was not called")
        return self._session

    async def start(self) -> None:
        """Create the shared session (inside the running loop)."""
        connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # One session serves every caller: a cookie SVV set for one request must never
            # ride along on another municipality's (and an empty jar is also no work).
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # bytes through: a compressed body stays compressed
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(
        self,
        method: str,
        path: str,
        *,
        query: str,
        body: bytes | None,
        correlation_id: str,
        remaining_s: float,
    ) -> UpstreamResponse:
        """Send one request upstream and read the whole answer.

        Args:
            path: the (already encoded) path below ``base_url``.
            query: the raw query string to pass through ("" for none).
            remaining_s: what is left of the end-to-end deadline.
        """
        if remaining_s <= 0:
            raise UpstreamTimeout()
        # encoded=True: the path is ours (segments quoted by the router) and the query is the
        # caller's validated raw query; neither may be re-normalised (no dot-segment folding).
        url = URL(self.base_url + path + (f"?{query}" if query else ""), encoded=True)
        headers = {
            "Authorization": self._auth,
            "Accept": "application/json",
            "X-Request-ID": correlation_id,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(
            total=remaining_s, sock_connect=self._connect_timeout, sock_read=self._read_timeout
        )
        with map_upstream_errors():
            async with self.session.request(
                method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                data = await resp.read()
                passed = {h: v for h in PASSED_BACK_HEADERS if (v := resp.headers.get(h))}
                return UpstreamResponse(resp.status, data, passed)

"""
The client's one I/O seam: a transport sends one HTTP request and returns the raw answer.

``AiohttpTransport`` is the real one (aiohttp is the project's HTTP client). Tests may pass a
transport that calls an app in-process, or an aiohttp session bound to a test server; nothing
above this module imports aiohttp's errors, which are mapped to ours in ``_map_errors``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import aiohttp

from kjoretoyregister.client._netreason import connection_reason
from kjoretoyregister.client.errors import TransportError

__all__ = ["AiohttpTransport", "RawResponse", "Transport"]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One HTTP answer exactly as received: status, headers and body bytes."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Transport(Protocol):
    """Anything that can send one request; the client never needs more."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> RawResponse:
        """Send the request and return the raw answer; raise ``TransportError`` on no answer."""
        ...

    async def aclose(self) -> None:
        """Release connections the transport owns."""
        ...


@contextmanager
def _map_errors(url: str) -> Iterator[None]:
    """Turn aiohttp's and asyncio's errors into ``TransportError``, keeping the cause."""
    try:
        yield
    except TimeoutError as exc:
        raise TransportError(f"timeout calling {url}") from exc
    except aiohttp.ClientConnectionError as exc:
        raise TransportError(f"cannot reach {url}: {connection_reason(exc)}") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"HTTP error calling {url}: {exc}") from exc


class AiohttpTransport:
    """
    Send requests with an ``aiohttp.ClientSession`` (keep-alive pool).

    Args:
        session: a session to borrow (the caller closes it); None = create one lazily and
            close it in :meth:`aclose`.
        timeout_s: default total timeout per request.
    """

    def __init__(self, session: aiohttp.ClientSession | None = None, *, timeout_s: float = 30.0):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._session = session
        self._owns_session = session is None
        self._timeout_s = timeout_s

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use (created on first use when none was given)."""
        if self._session is None or (self._session.closed and self._owns_session):
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> RawResponse:
        """Send one request; see :class:`Transport`."""
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._timeout_s)
        with _map_errors(url):
            async with self.session.request(
                method, url, headers=dict(headers), data=body, timeout=timeout
            ) as response:
                payload = await response.read()
                return RawResponse(response.status, payload, response.headers)

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

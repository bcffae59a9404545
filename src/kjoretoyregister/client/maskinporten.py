"""Maskinporten access tokens for a fagsystem: JWT grant, token request, cache, refresh.

Written from Digdir's documentation only (docs.digdir.no «Maskinporten: token» and «JWT
grant»), so it works against ``test.maskinporten.no``/``maskinporten.no`` with just the issuer,
client id and key changed, and against the local stand-in. ::

    provider = MaskinportenTokenProvider(
        token_url="https://test.maskinporten.no/token",
        issuer="https://test.maskinporten.no/",
        client_id="…", private_key=load_private_key(Path("client.pem")), kid="…",
    )
    token = await provider.atoken()      # cached until shortly before it expires
    provider.invalidate()                # after the API said 401: the next call fetches anew

The token is treated as opaque (Digdir's advice): its lifetime comes from ``expires_in``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from cryptography.hazmat.primitives.asymmetric import rsa

from kjoretoyregister.client import _grant
from kjoretoyregister.client._netreason import connection_reason

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FORM = "application/x-www-form-urlencoded"


class MaskinportenError(Exception):
    """Maskinporten did not give a token.

    Attributes:
        error: the OAuth2 ``error`` (e.g. ``invalid_grant``), or ``connection_error`` /
            ``invalid_response`` when no usable answer came back.
        error_description: Maskinporten's description (with its MP-nnn code and trace id).
        status: the HTTP status, or None when there was no HTTP answer.
    """

    def __init__(self, error: str, error_description: str, status: int | None) -> None:
        super().__init__(f"{error}: {error_description}" + (f" (HTTP {status})" if status else ""))
        self.error = error
        self.error_description = error_description
        self.status = status


def load_private_key(source: rsa.RSAPrivateKey | Path | bytes | str) -> rsa.RSAPrivateKey:
    """Load the client's RSA private key from a PEM file path, PEM bytes/text, or a key object.

    Raises:
        ValueError: not an unencrypted RSA private key.
        OSError: the file cannot be read.
    """
    if isinstance(source, Path):
        return _grant.load_private_key(source.read_bytes())
    if isinstance(source, str) and not source.lstrip().startswith("-----BEGIN"):
        return _grant.load_private_key(Path(source).read_bytes())
    return _grant.load_private_key(source)


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str
    refresh_at: float  # the provider's clock after which a new token is fetched


class MaskinportenTokenProvider:
    """Gets and caches Maskinporten access tokens for one client, scope and consumer.

    Safe to share: concurrent callers wait for one token request instead of each sending one
    (per event loop for :meth:`atoken`, per process for :meth:`token`).
    """

    def __init__(
        self,
        *,
        token_url: str,
        issuer: str,
        client_id: str,
        private_key: rsa.RSAPrivateKey | bytes | str,
        kid: str | None = None,
        certificate_chain: Sequence[bytes] | None = None,
        scope: str = "ks:fiks",
        resource: str | None = None,
        consumer_org: str | None = None,
        refresh_margin_s: float = 10.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the provider.

        Args:
            token_url: Maskinporten's token endpoint, e.g. ``https://test.maskinporten.no/token``.
            issuer: Maskinporten's issuer, the grant's ``aud`` (``https://test.maskinporten.no/``).
            client_id: the Maskinporten client (integration) id.
            private_key: the RSA key registered on the client or the certificate's key (key
                object or PEM).
            kid: key id of a key registered on the client (``kid`` mode).
            certificate_chain: virksomhetssertifikat, leaf first, DER or PEM (``x5c`` mode).
                Give exactly one of ``kid`` and ``certificate_chain``.
            scope: space-separated scopes; ``ks:fiks`` for Fiks.
            resource: audience restriction, if the API asks for one.
            consumer_org: orgnr this supplier acts for under an Altinn delegation.
            refresh_margin_s: fetch a new token this long before the old one expires.
            timeout_s: total time allowed for one token request.
            clock: monotonic seconds for the cache (tests pass a fake one to skip ahead).

        Raises:
            ValueError: neither or both of ``kid``/``certificate_chain``, a bad key or URL.
        """
        if (kid is None) == (certificate_chain is None):
            raise ValueError("give exactly one of kid and certificate_chain")
        if urllib.parse.urlsplit(token_url).scheme not in ("http", "https"):
            raise ValueError("token_url must be an http(s) URL")
        if refresh_margin_s < 0 or timeout_s <= 0:
            raise ValueError("refresh_margin_s must be ≥ 0 and timeout_s > 0")
        self.token_url = token_url
        self.issuer = issuer
        self.client_id = client_id
        self.scope = scope
        self.resource = resource
        self.consumer_org = consumer_org
        self.refresh_margin_s = refresh_margin_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._key = load_private_key(private_key)
        self._kid = kid
        self._x5c = _grant.x5c_from_chain(certificate_chain) if certificate_chain else None
        self._cached: _Cached | None = None
        self._sync_lock = threading.Lock()
        # asyncio.Lock belongs to one event loop; keep one per loop so the provider also works
        # when used from several loops (e.g. repeated asyncio.run in scripts and tests).
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- public API ------------------------------------------------------------------------
    async def atoken(self, session: aiohttp.ClientSession | None = None) -> str:
        """A valid access token: the cached one, or a new one from Maskinporten.

        Args:
            session: an aiohttp session to send the token request with; a short-lived one is
                made if None.

        Raises:
            MaskinportenError: Maskinporten refused, or could not be reached.
        """
        cached = self._fresh()
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        lock = self._async_locks.setdefault(loop, asyncio.Lock())
        async with lock:
            cached = self._fresh()  # another task may have fetched while we waited
            if cached is not None:
                return cached
            started = self._clock()
            if session is not None:
                status, body = await self._apost(session)
            else:
                async with aiohttp.ClientSession() as own:
                    status, body = await self._apost(own)
            return self._accept(status, body, started)

    def token(self) -> str:
        """Blocking variant of :meth:`atoken` (standard library HTTP; no event loop needed).

        Raises:
            MaskinportenError: Maskinporten refused, or could not be reached.
        """
        cached = self._fresh()
        if cached is not None:
            return cached
        with self._sync_lock:
            cached = self._fresh()
            if cached is not None:
                return cached
            started = self._clock()
            status, body = self._post()
            return self._accept(status, body, started)

    def invalidate(self) -> None:
        """Forget the cached token, e.g. after the API answered 401 with it."""
        self._cached = None

    # -- internals -------------------------------------------------------------------------
    def _fresh(self) -> str | None:
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        return None

    def _form(self) -> bytes:
        grant = _grant.build_grant(
            issuer=self.issuer,
            client_id=self.client_id,
            private_key=self._key,
            scope=self.scope,
            kid=self._kid,
            x5c=self._x5c,
            resource=self.resource,
            consumer_org=self.consumer_org,
        )
        return urllib.parse.urlencode({"grant_type": JWT_BEARER, "assertion": grant}).encode()

    async def _apost(self, session: aiohttp.ClientSession) -> tuple[int, bytes]:
        try:
            async with session.post(
                self.token_url,
                data=self._form(),
                headers={"Content-Type": _FORM, "Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                return response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc

    def _post(self) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - scheme checked to be http(s) in __init__
            self.token_url,
            data=self._form(),
            headers={"Content-Type": _FORM, "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (OSError, ValueError) as exc:  # URLError is an OSError; timeouts too
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: BaseException) -> MaskinportenError:
        # Say which URL and why in words; the exception's repr (ConnectionKey(...)) stays
        # chained for whoever debugs, not in the message a user reads.
        return MaskinportenError(
            "connection_error", f"cannot reach {self.token_url}: {connection_reason(exc)}", None
        )

    def _accept(self, status: int, body: bytes, started: float) -> str:
        """Turn Maskinporten's answer into a cached token or a MaskinportenError."""
        data = _json_object(body)
        if status != 200:
            error = data.get("error") if data else None
            description = data.get("error_description") if data else None
            raise MaskinportenError(
                str(error) if error else "invalid_response",
                str(description) if description else body[:200].decode("utf-8", "replace"),
                status,
            )
        token = data.get("access_token") if data else None
        expires_in = data.get("expires_in") if data else None
        if (
            not isinstance(token, str)
            or not token
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            raise MaskinportenError(
                "invalid_response", "token response lacks access_token or expires_in", status
            )
        # Refresh `refresh_margin_s` early, but never cache for less than half the lifetime:
        # a very short-lived token would otherwise be fetched anew on every call.
        keep = max(expires_in - self.refresh_margin_s, expires_in / 2)
        self._cached = _Cached(token=token, refresh_at=started + keep)
        return token


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None

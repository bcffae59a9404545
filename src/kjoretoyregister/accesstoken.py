"""Maskinporten access tokens: signature, issuer and lifetime checks against the issuer's JWKS.

Shared by every service that accepts Maskinporten tokens (the gateway, the SVV simulator's
akfell profile); each adds its own claim rules (scope, audience, consumer) on the claims this
returns. It depends on nothing of ours but logging, so lower layers may use it.

Checks (fiks-platform.md §1.5, §2.5): the signature is by a key in the issuer's JWKS (found
through the issuer's well-known document, or at a configured ``jwks_url``), ``alg`` is one of
RS256/384/512, ``iss`` equals the configured issuer, ``exp``/``iat`` hold with a small leeway.

The JWKS is cached for ``jwks_cache_s`` (Digdir: "say 24 hours"); an unknown ``kid`` triggers a
refetch at most once per ``jwks_min_refetch_s``, so a flood of forged kids cannot hammer
Maskinporten.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
import orjson

from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
_WELL_KNOWN = (".well-known/oauth-authorization-server", ".well-known/openid-configuration")


class InvalidToken(Exception):
    """The token is malformed, unsigned, signed by an unknown key, expired or foreign.

    ``reason`` is a short English text for logs and error bodies; it never holds the token.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """No key set could be fetched from the issuer (and none is held)."""


class _Keys:
    """The current JWKS: kid → RSA public key, and when it was fetched."""

    def __init__(self, keys: dict[str, Any], fetched_at: float) -> None:
        self.keys = keys
        self.fetched_at = fetched_at


class JwtVerifier:
    """Verifies the signature and standard claims of tokens from one trusted issuer.

    Args:
        issuer: the trusted ``iss`` value, e.g. ``"https://maskinporten.no/"``.
        session: the aiohttp session used to fetch the well-known document and the JWKS.
        jwks_url: the JWKS address; None = read ``jwks_uri`` from the issuer's well-known
            document.
        jwks_cache_s: how long a fetched JWKS is used before it is fetched again.
        jwks_min_refetch_s: minimum interval between refetches caused by unknown kids.
        leeway_s: clock leeway for ``exp``/``iat``.
        clock: seconds since the epoch (tests pass their own).
    """

    def __init__(
        self,
        issuer: str,
        session: aiohttp.ClientSession,
        *,
        jwks_url: str | None = None,
        jwks_cache_s: float = 86_400,
        jwks_min_refetch_s: float = 60,
        leeway_s: float = 10,
        fetch_timeout_s: float = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must not be empty")
        self.issuer = issuer
        self.leeway_s = leeway_s
        self._session = session
        self._jwks_url = jwks_url
        self._jwks_cache_s = jwks_cache_s
        self._min_refetch_s = jwks_min_refetch_s
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout_s)
        self._clock = clock
        self._keys: _Keys | None = None
        self._last_fetch_attempt = float("-inf")
        self._lock = asyncio.Lock()

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of ``token``.

        Raises:
            InvalidToken: see the class docstring; ``reason`` says which check failed.
            KeysUnavailable: the issuer's keys could not be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        # The allow-list is what stops "none" and HS256-signed-with-the-public-key tokens.
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken("alg must be one of RS256, RS384, RS512")
        if not isinstance(kid, str):
            raise InvalidToken("no kid in the token header")
        key = await self._key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self.issuer,
                leeway=self.leeway_s,
                # PyJWT refuses any non-empty aud unless told which; callers check aud.
                options={"require": ["exp", "iat", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken(f"the token is not from the trusted issuer {self.issuer}") from None
        except jwt.PyJWTError:
            raise InvalidToken("bad signature or claims") from None
        return claims

    async def ensure_keys(self) -> None:
        """Readiness: a key set no older than ``jwks_cache_s`` (fetched now if due).

        Raises:
            KeysUnavailable: no key set could be fetched, or only a stale one is held.
        """
        now = self._clock()
        keys = self._keys
        stale = keys is None or now - keys.fetched_at > self._jwks_cache_s
        if stale and now - self._last_fetch_attempt >= self._min_refetch_s:
            keys = await self._refresh(now)
        if keys is None or self._clock() - keys.fetched_at > self._jwks_cache_s:
            raise KeysUnavailable()

    async def _key_for(self, kid: str) -> Any:
        now = self._clock()
        keys = self._keys
        if keys is None or (
            now - keys.fetched_at > self._jwks_cache_s
            and now - self._last_fetch_attempt >= self._min_refetch_s
        ):
            keys = await self._refresh(now)
        key = keys.keys.get(kid)
        if key is None and now - self._last_fetch_attempt >= self._min_refetch_s:
            keys = await self._refresh(now)
            key = keys.keys.get(kid)
        if key is None:
            raise InvalidToken("signed by a key the issuer does not publish")
        return key

    async def _refresh(self, requested_at: float) -> _Keys:
        """Fetch the JWKS; on failure keep using a stale set if there is one."""
        async with self._lock:
            current = self._keys
            # Another request refreshed (or tried) while this one waited for the lock.
            if current is not None and self._last_fetch_attempt >= requested_at:
                return current
            self._last_fetch_attempt = self._clock()
            try:
                keys = await self._fetch_jwks()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("jwks_fetch_failed", error=type(exc).__name__)
                if current is not None:
                    return current
                raise KeysUnavailable() from exc
            self._keys = _Keys(keys, self._last_fetch_attempt)
            return self._keys

    async def _get_json(self, url: str) -> Any:
        async with self._session.get(url, timeout=self._timeout) as resp:
            if resp.status != 200:
                raise ValueError(f"status {resp.status}")
            return orjson.loads(await resp.read())

    async def _jwks_uri(self) -> str:
        if self._jwks_url:
            return self._jwks_url
        base = self.issuer if self.issuer.endswith("/") else self.issuer + "/"
        last: Exception | None = None
        for suffix in _WELL_KNOWN:
            try:
                doc = await self._get_json(base + suffix)
            except (ValueError, orjson.JSONDecodeError) as exc:
                last = exc
                continue
            if isinstance(doc, dict) and isinstance(doc.get("jwks_uri"), str):
                return str(doc["jwks_uri"])
        raise ValueError(f"no well-known document with jwks_uri ({last})")

    async def _fetch_jwks(self) -> dict[str, Any]:
        jwks = await self._get_json(await self._jwks_uri())
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("JWKS without keys")
        keys: dict[str, Any] = {}
        for jwk in jwks["keys"]:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or "kid" not in jwk:
                continue
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256").key
            except jwt.PyJWTError:
                continue
        log.info("jwks_fetched", keys=len(keys))
        return keys


def has_scope(claims: dict[str, Any], scope: str) -> bool:
    """Whether the space-separated ``scope`` claim holds ``scope``."""
    value = claims.get("scope")
    return isinstance(value, str) and scope in value.split()

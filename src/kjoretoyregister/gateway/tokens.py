"""Maskinporten access-token verification with a JWKS cache and a verified-token cache.

Checks (fiks-platform.md §1.5, §2.5): signature by a key in the issuer's JWKS (found through the
issuer's well-known document), ``alg`` in RS256/384/512, ``iss`` equal to the configured issuer,
``exp``/``iat`` with a small leeway, ``ks:fiks`` in ``scope``, ``aud`` absent, ``"unspecified"``
or our own resource, and ``consumer.ID`` of the form ``0192:<9 digits>``.

The JWKS is cached for ``jwks_cache_s`` (Digdir: "say 24 hours"); an unknown ``kid`` triggers a
refetch at most once per ``jwks_min_refetch_s``, so a flood of forged kids cannot hammer
Maskinporten. A token that passed is remembered until its ``exp`` (keyed by the token string),
which takes the ~100 µs RSA verification off the hot path for a client's repeated calls.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import orjson

from kjoretoyregister.gateway.errors import JwksUnavailable, TokenInvalid
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
REQUIRED_SCOPE = "ks:fiks"
_CONSUMER_ID = re.compile(r"0192:([0-9]{9})")
_WELL_KNOWN = (".well-known/oauth-authorization-server", ".well-known/openid-configuration")
_MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What the gateway uses from a verified token."""

    consumer_orgnr: str
    supplier_orgnr: str | None
    client_id: str
    exp: float


class _Keys:
    """The current JWKS: kid → RSA public key, and when it was fetched."""

    def __init__(self, keys: dict[str, Any], fetched_at: float) -> None:
        self.keys = keys
        self.fetched_at = fetched_at


class TokenVerifier:
    """Verifies Maskinporten tokens for one trusted issuer.

    Args:
        issuer: the trusted ``iss`` value, e.g. ``"https://maskinporten.no/"``; its well-known
            document is fetched from below it.
        session: the aiohttp session used to fetch the well-known document and the JWKS.
        resource: our own audience, accepted in ``aud`` besides ``"unspecified"``.
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
        resource: str | None = None,
        jwks_cache_s: float = 86_400,
        jwks_min_refetch_s: float = 60,
        leeway_s: float = 10,
        fetch_timeout_s: float = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must not be empty")
        self.issuer = issuer
        self._session = session
        self._audiences = {"unspecified"} | ({resource} if resource else set())
        self._jwks_cache_s = jwks_cache_s
        self._min_refetch_s = jwks_min_refetch_s
        self._leeway = leeway_s
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout_s)
        self._clock = clock
        self._keys: _Keys | None = None
        self._last_fetch_attempt = float("-inf")
        self._lock = asyncio.Lock()
        self._verified: dict[str, VerifiedToken] = {}

    async def verify(self, token: str) -> VerifiedToken:
        """Verify ``token`` or raise :class:`TokenInvalid` / :class:`JwksUnavailable`."""
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            if cached.exp + self._leeway > now:
                return cached
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        alg, kid = header.get("alg"), header.get("kid")
        # The allow-list is what stops "none" and HS256-signed-with-the-public-key tokens.
        if alg not in ALLOWED_ALGORITHMS or not isinstance(kid, str):
            raise TokenInvalid()
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self.issuer,
                leeway=self._leeway,
                # PyJWT refuses any non-empty aud unless told which; we check aud ourselves.
                options={"require": ["exp", "iat", "iss"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        verified = self._check_claims(claims)
        self._remember(token, verified, now)
        return verified

    def _check_claims(self, claims: dict[str, Any]) -> VerifiedToken:
        scope = claims.get("scope")
        if not isinstance(scope, str) or REQUIRED_SCOPE not in scope.split():
            raise TokenInvalid()
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if aud is not None and (
            not isinstance(audiences, list) or not any(a in self._audiences for a in audiences)
        ):
            raise TokenInvalid()
        consumer = _orgnr_of(claims.get("consumer"))
        if consumer is None:
            raise TokenInvalid()
        client_id = claims.get("client_id")
        exp = claims["exp"]
        return VerifiedToken(
            consumer_orgnr=consumer,
            supplier_orgnr=_orgnr_of(claims.get("supplier")),
            client_id=client_id if isinstance(client_id, str) else "",
            exp=float(exp),
        )

    def _remember(self, token: str, verified: VerifiedToken, now: float) -> None:
        if len(self._verified) >= _MAX_CACHED_TOKENS:
            for t in [t for t, v in self._verified.items() if v.exp + self._leeway <= now]:
                del self._verified[t]
            if len(self._verified) >= _MAX_CACHED_TOKENS:
                self._verified.clear()  # bounded memory beats a clever eviction here
        self._verified[token] = verified

    async def ensure_keys(self) -> None:
        """Readiness: a key set no older than ``jwks_cache_s`` (fetched now if due).

        Raises:
            JwksUnavailable: no key set could be fetched, or only a stale one is held.
        """
        now = self._clock()
        keys = self._keys
        stale = keys is None or now - keys.fetched_at > self._jwks_cache_s
        if stale and now - self._last_fetch_attempt >= self._min_refetch_s:
            keys = await self._refresh(now)
        if keys is None or self._clock() - keys.fetched_at > self._jwks_cache_s:
            raise JwksUnavailable()

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
            raise TokenInvalid()
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
                raise JwksUnavailable() from exc
            self._keys = _Keys(keys, self._last_fetch_attempt)
            return self._keys

    async def _get_json(self, url: str) -> Any:
        async with self._session.get(url, timeout=self._timeout) as resp:
            if resp.status != 200:
                raise ValueError(f"status {resp.status}")
            return orjson.loads(await resp.read())

    async def _fetch_jwks(self) -> dict[str, Any]:
        base = self.issuer if self.issuer.endswith("/") else self.issuer + "/"
        jwks_uri: str | None = None
        last: Exception | None = None
        for suffix in _WELL_KNOWN:
            try:
                doc = await self._get_json(base + suffix)
            except (ValueError, orjson.JSONDecodeError) as exc:
                last = exc
                continue
            if isinstance(doc, dict) and isinstance(doc.get("jwks_uri"), str):
                jwks_uri = doc["jwks_uri"]
                break
        if jwks_uri is None:
            raise ValueError(f"no well-known document with jwks_uri ({last})")
        jwks = await self._get_json(jwks_uri)
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


def _orgnr_of(party: Any) -> str | None:
    """``{"authority": …, "ID": "0192:<orgnr>"}`` → orgnr; other shapes → None."""
    if not isinstance(party, dict):
        return None
    ident = party.get("ID")
    if not isinstance(ident, str):
        return None
    m = _CONSUMER_ID.fullmatch(ident)
    return m.group(1) if m else None

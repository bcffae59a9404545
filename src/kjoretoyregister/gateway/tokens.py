"""Maskinporten access-token verification for the gateway, with a verified-token cache.

Signature, ``alg``, ``iss``, ``exp``/``iat`` and the JWKS cache are the shared
:class:`~kjoretoyregister.accesstoken.JwtVerifier` (fiks-platform.md §1.5, §2.5). The gateway
adds: ``ks:fiks`` in ``scope``, ``aud`` absent, ``"unspecified"`` or our own resource, and
``consumer.ID`` of the form ``0192:<9 digits>``.

A token that passed is remembered until its ``exp`` (keyed by the token string), which takes
the ~100 µs RSA verification off the hot path for a client's repeated calls.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from kjoretoyregister.accesstoken import (
    ALLOWED_ALGORITHMS,
    InvalidToken,
    JwtVerifier,
    KeysUnavailable,
    has_scope,
)
from kjoretoyregister.gateway.errors import JwksUnavailable, TokenInvalid

__all__ = ["ALLOWED_ALGORITHMS", "REQUIRED_SCOPE", "TokenVerifier", "VerifiedToken"]

REQUIRED_SCOPE = "ks:fiks"
_CONSUMER_ID = re.compile(r"0192:([0-9]{9})")
_MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What the gateway uses from a verified token."""

    consumer_orgnr: str
    supplier_orgnr: str | None
    client_id: str
    exp: float


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
        self._jwt = JwtVerifier(
            issuer,
            session,
            jwks_cache_s=jwks_cache_s,
            jwks_min_refetch_s=jwks_min_refetch_s,
            leeway_s=leeway_s,
            fetch_timeout_s=fetch_timeout_s,
            clock=clock,
        )
        self.issuer = issuer
        self._audiences = {"unspecified"} | ({resource} if resource else set())
        self._leeway = leeway_s
        self._clock = clock
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
            claims = await self._jwt.claims(token)
        except InvalidToken:
            raise TokenInvalid() from None
        except KeysUnavailable as exc:
            raise JwksUnavailable() from exc
        verified = self._check_claims(claims)
        self._remember(token, verified, now)
        return verified

    def _check_claims(self, claims: dict[str, Any]) -> VerifiedToken:
        if not has_scope(claims, REQUIRED_SCOPE):
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
        try:
            await self._jwt.ensure_keys()
        except KeysUnavailable as exc:
            raise JwksUnavailable() from exc


def _orgnr_of(party: Any) -> str | None:
    """``{"authority": …, "ID": "0192:<orgnr>"}`` → orgnr; other shapes → None."""
    if not isinstance(party, dict):
        return None
    ident = party.get("ID")
    if not isinstance(ident, str):
        return None
    m = _CONSUMER_ID.fullmatch(ident)
    return m.group(1) if m else None

"""akfell authentication: a Maskinporten bearer token with SVV's scope, or an enkeltoppslag key.

The owner-data endpoints want a Maskinporten access token with scope
``svv:kjoretoy/kjoretoyopplysninger`` (svv-api.md §1, MPJAVA). The token is checked by the
shared :class:`~kjoretoyregister.accesstoken.JwtVerifier` (signature by a key in the issuer's
JWKS, ``alg``, ``iss``, ``exp``/``iat``) against ``akfell_issuer`` / ``akfell_jwks_url``; then
``aud`` must be absent, ``"unspecified"`` or ``akfell_audience``, and the scope present.

- no or malformed ``Authorization: Bearer`` header, bad signature, expired, foreign issuer,
  wrong audience → **401** with ``WWW-Authenticate: Bearer`` and a body saying what is valid;
- a valid token without the scope → **403** naming the scope that is needed;
- the issuer's keys cannot be fetched → **503**.

The enkeltoppslag is SVV's open API with an API key (``SVV-Authorization: Apikey <key>``;
several clients send the bare key, svv-api.md §9): a configured ``akfell_api_keys`` entry is
accepted there, and so is a Maskinporten token with the scope.

The quota identity is the token's ``client_id`` (else its consumer), or ``apikey:<n>``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from kjoretoyregister.accesstoken import InvalidToken, JwtVerifier, KeysUnavailable, has_scope
from kjoretoyregister.config import SvvSettings
from kjoretoyregister.headers import credentials
from kjoretoyregister.svv.errors import Forbidden, Outage, Unauthorized

VERIFIER = web.AppKey("akfell_verifier", JwtVerifier)
API_KEY_HEADER = "SVV-Authorization"


def _challenge(settings: SvvSettings, error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="akfell-datautlevering", error="{error}"'}


def _what_is_valid(settings: SvvSettings) -> str:
    return (
        f"send 'Authorization: Bearer <token>' med et Maskinporten-token fra "
        f"{settings.akfell_issuer} med scope {settings.akfell_scope}"
    )


async def bearer_client(request: web.Request, verifier: JwtVerifier, settings: SvvSettings) -> str:
    """The quota identity of a request with a valid Maskinporten token.

    Raises:
        Unauthorized: no token, or an invalid one (401).
        Forbidden: a valid token without the scope (403).
        Outage: the issuer's keys could not be fetched (503).
    """
    token = credentials(request.headers, "Bearer")
    if not token:
        raise Unauthorized(
            "Mangler Maskinporten-token: " + _what_is_valid(settings),
            headers=_challenge(settings, "invalid_request"),
        )
    try:
        claims = await verifier.claims(token)
    except InvalidToken as exc:
        raise Unauthorized(
            f"Ugyldig Maskinporten-token ({exc.reason}): " + _what_is_valid(settings),
            headers=_challenge(settings, "invalid_token"),
        ) from None
    except KeysUnavailable:
        raise Outage("Klarte ikke å hente nøkler fra Maskinporten (JWKS)") from None
    if not _audience_ok(claims.get("aud"), settings.akfell_audience):
        raise Unauthorized(
            "Maskinporten-tokenet er laget for en annen mottaker (aud): be om det uten "
            "resource"
            + (
                f" eller med resource {settings.akfell_audience}"
                if settings.akfell_audience
                else ""
            ),
            headers=_challenge(settings, "invalid_token"),
        )
    if not has_scope(claims, settings.akfell_scope):
        scope = claims.get("scope")
        shown = scope[:200] if isinstance(scope, str) and scope else "(ingen)"
        raise Forbidden(
            f"Maskinporten-tokenet mangler scope {settings.akfell_scope} (tokenet har: {shown})",
            headers=_challenge(settings, "insufficient_scope"),
        )
    return _identity(claims)


def _audience_ok(aud: Any, accepted: str | None) -> bool:
    if aud is None:
        return True
    audiences = [aud] if isinstance(aud, str) else aud
    allowed = {"unspecified"} | ({accepted} if accepted else set())
    return isinstance(audiences, list) and any(a in allowed for a in audiences)


def _identity(claims: dict[str, Any]) -> str:
    client_id = claims.get("client_id")
    if isinstance(client_id, str) and client_id:
        return f"client:{client_id}"
    consumer = claims.get("consumer")
    ident = consumer.get("ID") if isinstance(consumer, dict) else None
    return f"consumer:{ident}" if isinstance(ident, str) else "client:(ukjent)"


def api_key_client(request: web.Request, settings: SvvSettings) -> str | None:
    """``apikey:<n>`` for a configured enkeltoppslag key in ``SVV-Authorization``, else None."""
    value = request.headers.get(API_KEY_HEADER, "").strip()
    if not value or not settings.akfell_api_keys:
        return None
    scheme, _, rest = value.partition(" ")
    key = rest.strip() if scheme.lower() == "apikey" and rest.strip() else value
    given = hashlib.sha256(key.encode("utf-8")).digest()
    found = None
    for index, configured in enumerate(settings.akfell_api_keys):
        expected = hashlib.sha256(configured.get_secret_value().encode("utf-8")).digest()
        if hmac.compare_digest(given, expected):
            found = index
    return None if found is None else f"apikey:{found}"


async def enkeltoppslag_client(
    request: web.Request, verifier: JwtVerifier, settings: SvvSettings
) -> str:
    """The identity of an enkeltoppslag request: an API key, else a Maskinporten token.

    Raises:
        Unauthorized, Forbidden, Outage: as :func:`bearer_client`; a wrong API key is 401.
    """
    by_key = api_key_client(request, settings)
    if by_key is not None:
        return by_key
    if API_KEY_HEADER in request.headers and not request.headers.get("Authorization"):
        raise Unauthorized(
            f"Ugyldig API-nøkkel i {API_KEY_HEADER}: send '{API_KEY_HEADER}: Apikey <nøkkel>' "
            "med en gyldig nøkkel, eller " + _what_is_valid(settings)
        )
    return await bearer_client(request, verifier, settings)

"""Issuing access tokens shaped like Maskinporten's (fiks-platform.md §2.3, §2.4).

Header: ``alg`` RS256 and ``kid`` of our signing key, no ``typ`` (a real Maskinporten token
header is ``{"kid": …, "alg": "RS256"}``). Claims: ``iss``, ``client_id``, ``client_amr``,
``consumer``, ``scope``, ``token_type``, ``iat``, ``exp``, ``jti``, ``aud`` (the requested
resource, else ``"unspecified"``), and ``supplier``/``delegation_source`` when delegated.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt

from kjoretoyregister.maskinporten.state import SigningKey

ISO6523_AUTHORITY = "iso6523-actorid-upis"
# The ICD for Enhetsregisteret; Maskinporten's consumer IDs are "0192:<orgnr>".
ENHETSREGISTERET_ICD = "0192"
UNSPECIFIED_AUDIENCE = "unspecified"


def iso6523(orgnr: str) -> dict[str, str]:
    """An organisation in Maskinporten's ISO 6523 form, e.g. for ``consumer``/``supplier``."""
    return {"authority": ISO6523_AUTHORITY, "ID": f"{ENHETSREGISTERET_ICD}:{orgnr}"}


def access_token_claims(
    *,
    issuer: str,
    client_id: str,
    client_amr: str,
    consumer_orgnr: str,
    scopes: tuple[str, ...] | list[str],
    iat: int,
    lifetime_s: int,
    resource: tuple[str, ...] | list[str] | None = None,
    supplier_orgnr: str | None = None,
    delegation_source: str | None = None,
    pid: str | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claims of one access token (no signing; see :func:`sign_access_token`)."""
    aud: str | list[str]
    if not resource:
        aud = UNSPECIFIED_AUDIENCE
    elif len(resource) == 1:
        aud = resource[0]
    else:
        aud = list(resource)
    claims: dict[str, Any] = {
        "iss": issuer,
        "client_amr": client_amr,
        "token_type": "Bearer",
        "aud": aud,
        "scope": " ".join(scopes),
        "consumer": iso6523(consumer_orgnr),
        "client_id": client_id,
        "iat": iat,
        "exp": iat + lifetime_s,
        "jti": jti or secrets.token_urlsafe(32),
    }
    if supplier_orgnr is not None:
        claims["supplier"] = iso6523(supplier_orgnr)
    if delegation_source is not None:
        claims["delegation_source"] = delegation_source
    if pid is not None:
        claims["pid"] = pid
    return claims


def sign_access_token(claims: dict[str, Any], key: SigningKey) -> str:
    """Sign ``claims`` with RS256 and our key's ``kid`` (header without ``typ``)."""
    # typ=None removes PyJWT's default "typ": "JWT"; Maskinporten's header has none.
    return jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": None}
    )


def token_response(
    access_token: str, *, expires_in: int, scopes: tuple[str, ...]
) -> dict[str, Any]:
    """The JSON body of a successful token response (MP-TOKEN «Response»)."""
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": " ".join(scopes),
    }

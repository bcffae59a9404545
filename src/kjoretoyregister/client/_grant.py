"""Building the Maskinporten JWT grant (RFC 7523) from Digdir's documentation.

Header: ``alg`` RS256 and exactly one of ``kid`` (a key registered on the client) or ``x5c``
(the virksomhetssertifikat chain as a JSON array of base64 DER strings). Claims: ``aud`` =
Maskinporten's issuer (single value, with trailing slash), ``iss`` = client_id, ``scope``,
``iat``, ``exp`` = iat + 120 s, a fresh ``jti``, and ``resource``/``consumer_org`` only when
asked for. Nothing else: Maskinporten refuses undocumented claims.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Digdir: exp − iat may be at most 120 s.
GRANT_LIFETIME_S = 120


def load_private_key(key: rsa.RSAPrivateKey | bytes | str) -> rsa.RSAPrivateKey:
    """Accept an RSA key object or its unencrypted PEM; ValueError for anything else."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    pem = key.encode() if isinstance(key, str) else key
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("Maskinporten grants are signed with RSA keys (RS256)")
    return loaded


def x5c_from_chain(chain: Sequence[bytes]) -> list[str]:
    """The ``x5c`` value for a certificate chain given as DER or PEM blobs (leaf first)."""
    if not chain:
        raise ValueError("certificate_chain must hold at least the leaf certificate")
    out: list[str] = []
    for blob in chain:
        if blob.lstrip().startswith(b"-----BEGIN"):
            certs = x509.load_pem_x509_certificates(blob)
        else:
            certs = [x509.load_der_x509_certificate(blob)]
        out.extend(
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in certs
        )
    return out


def build_grant(
    *,
    issuer: str,
    client_id: str,
    private_key: rsa.RSAPrivateKey,
    scope: str,
    kid: str | None = None,
    x5c: list[str] | None = None,
    resource: str | None = None,
    consumer_org: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a JWT grant for Maskinporten's token endpoint.

    Args:
        issuer: Maskinporten's issuer identifier, e.g. ``https://test.maskinporten.no/``.
        client_id: the Maskinporten client (``iss``).
        private_key: the key registered on the client, or the certificate's key.
        scope: space-separated scopes.
        kid: key id of a registered key (``kid`` mode); exclusive with ``x5c``.
        x5c: base64 DER chain (virksomhetssertifikat mode); exclusive with ``kid``.
        resource: an audience restriction (sent as a one-element array, the form Digdir
            currently supports).
        consumer_org: the orgnr this supplier acts for (Altinn delegation).
        now: epoch seconds; default the clock.
    """
    if (kid is None) == (x5c is None):
        raise ValueError("give exactly one of kid and x5c")
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aud": issuer,
        "iss": client_id,
        "scope": scope,
        "iat": iat,
        "exp": iat + GRANT_LIFETIME_S,
        "jti": str(uuid.uuid4()),
    }
    if resource is not None:
        claims["resource"] = [resource]
    if consumer_org is not None:
        claims["consumer_org"] = consumer_org
    headers: dict[str, Any] = {"kid": kid} if kid is not None else {"x5c": x5c}
    return jwt.encode(claims, private_key, algorithm="RS256", headers=headers)

"""Helpers for tests, demos and benchmarks: clients with keys, certificates, grants, tokens.

Everything here generates keys at run time; nothing is committed. Typical use::

    state = MaskinportenState.open(tmp_path / "mp")
    alice = make_client(state, "fagsystem-a", "910000004", ["ks:fiks"])
    async with running(state) as mp:
        grant = make_grant(issuer=mp.issuer, client_id=alice.client_id,
                           private_key=alice.private_key, kid=alice.kid)
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kjoretoyregister.httpserver import EdgeRunner
from kjoretoyregister.maskinporten import certs, keys, tokens
from kjoretoyregister.maskinporten.app import create_app
from kjoretoyregister.maskinporten.grants import CLIENT_AMR_KEY
from kjoretoyregister.maskinporten.state import MaskinportenState, SigningKey


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (the smallest size the stand-in accepts)."""
    return keys.new_rsa_key(2048)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A client registered with a public key: use ``kid`` and ``private_key`` in the grant."""

    client_id: str
    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    orgnr: str


@dataclass(frozen=True, slots=True)
class CertClient:
    """A client that authenticates with a virksomhetssertifikat (``x5c`` grants)."""

    client_id: str
    orgnr: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]

    @property
    def x5c(self) -> list[str]:
        """The ``x5c`` header value: base64 DER, leaf first."""
        return [certs.cert_der_b64(c) for c in self.chain]

    @property
    def chain_pem(self) -> list[bytes]:
        """The chain as PEM blobs (what the token provider's ``certificate_chain`` takes)."""
        return [certs.cert_pem(c) for c in self.chain]


def make_client(
    state: MaskinportenState,
    client_id: str,
    orgnr: str,
    scopes: Iterable[str] = ("ks:fiks",),
    *,
    private_key: rsa.RSAPrivateKey | None = None,
    kid: str | None = None,
) -> ClientKey:
    """Register ``client_id`` for ``orgnr`` with a (new) key pair and return the private half."""
    key = private_key or new_rsa_key()
    registered_kid = state.register_client(
        client_id,
        orgnr,
        list(scopes),
        public_key_pem=keys.public_pem(key.public_key()),
        kid=kid,
    )
    assert registered_kid is not None  # a key was given, so a kid comes back
    return ClientKey(client_id=client_id, kid=registered_kid, private_key=key, orgnr=orgnr)


def ensure_ca(state: MaskinportenState) -> x509.Certificate:
    """The state's test CA certificate, created if there is none yet."""
    ca = state.ca
    if ca is not None:
        return ca[1]
    return state.create_ca()


def make_cert_client(
    state: MaskinportenState,
    client_id: str,
    orgnr: str,
    scopes: Iterable[str] = ("ks:fiks",),
    *,
    private_key: rsa.RSAPrivateKey | None = None,
    cert_orgnr: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> CertClient:
    """Register ``client_id`` (no key) and issue a virksomhetssertifikat from the test CA.

    Args:
        cert_orgnr: the orgnr written in the certificate; default ``orgnr`` (give another to
            test the orgnr-mismatch rule).
        not_before, not_after: certificate validity (give past dates to test expiry).
    """
    ensure_ca(state)
    state.register_client(client_id, orgnr, list(scopes))
    key = private_key or new_rsa_key()
    cert = state.issue_certificate(
        cert_orgnr or orgnr, key.public_key(), not_before=not_before, not_after=not_after
    )
    return CertClient(client_id=client_id, orgnr=orgnr, private_key=key, chain=(cert,))


def foreign_certificate(
    orgnr: str, subject_key: rsa.RSAPrivateKey, *, ca_key: rsa.RSAPrivateKey | None = None
) -> x509.Certificate:
    """A virksomhetssertifikat from a CA the stand-in does not trust."""
    other_ca_key = ca_key or new_rsa_key()
    other_ca = certs.create_ca(other_ca_key, name="Foreign Test CA")
    return certs.issue_virksomhetssertifikat(
        other_ca_key, other_ca, subject_key.public_key(), orgnr
    )


def make_grant(
    *,
    issuer: str,
    client_id: str,
    private_key: Any,
    kid: str | None = None,
    x5c: list[str] | None = None,
    scope: str = "ks:fiks",
    iat: float | None = None,
    lifetime_s: float = 120,
    jti: str | None = None,
    alg: str = "RS256",
    extra_claims: dict[str, Any] | None = None,
    drop_claims: Iterable[str] = (),
    extra_headers: dict[str, Any] | None = None,
) -> str:
    """Build a JWT grant; every part can be bent to test one of Maskinporten's rules.

    Args:
        private_key: the signing key (anything PyJWT takes for ``alg``, e.g. bytes for HS256).
        extra_claims: claims added or overriding the defaults (e.g. ``{"aud": [a, b]}``).
        drop_claims: claims to leave out (e.g. ``["jti"]``).
    """
    issued = time.time() if iat is None else iat
    claims: dict[str, Any] = {
        "aud": issuer,
        "iss": client_id,
        "scope": scope,
        "iat": int(issued),
        "exp": int(issued + lifetime_s),
        "jti": jti or str(uuid.uuid4()),
    }
    claims.update(extra_claims or {})
    for name in drop_claims:
        claims.pop(name, None)
    headers: dict[str, Any] = {}
    if kid is not None:
        headers["kid"] = kid
    if x5c is not None:
        headers["x5c"] = x5c
    headers.update(extra_headers or {})
    return jwt.encode(claims, private_key, algorithm=alg, headers=headers)


def mint_token(
    state: MaskinportenState,
    *,
    issuer: str,
    orgnr: str,
    scope: str = "ks:fiks",
    client_id: str = "test-client",
    lifetime_s: int = 120,
    iat: int | None = None,
    signing_key: SigningKey | None = None,
    **claims: Any,
) -> str:
    """An access token as the stand-in would issue it, made directly (no grant, no HTTP).

    For gateway tests: pass ``iat`` in the past for an expired token, another ``issuer`` for a
    wrong-issuer token, ``signing_key`` of another state for a foreign signature, and any
    claim override (``aud=…``, ``consumer=…``) as keyword arguments.
    """
    body = tokens.access_token_claims(
        issuer=issuer,
        client_id=client_id,
        client_amr=CLIENT_AMR_KEY,
        consumer_orgnr=orgnr,
        scopes=scope.split(),
        iat=int(time.time()) if iat is None else iat,
        lifetime_s=lifetime_s,
    )
    body.update(claims)
    return tokens.sign_access_token(body, signing_key or state.signing_key)


@dataclass(frozen=True, slots=True)
class RunningMaskinporten:
    """Where a stand-in started by :func:`running` listens."""

    issuer: str
    token_url: str
    jwks_url: str
    app: web.Application


@asynccontextmanager
async def running(
    state: MaskinportenState, *, host: str = "127.0.0.1", **app_options: Any
) -> AsyncIterator[RunningMaskinporten]:
    """Serve the stand-in on a free loopback port for the duration of the ``async with``.

    Args:
        app_options: passed to :func:`~kjoretoyregister.maskinporten.app.create_app`
            (``token_lifetime_s``, ``clock``, ``issuer``).
    """
    app = create_app(state, **app_options)
    runner = EdgeRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        base = f"http://{host}:{runner.addresses[0][1]}/"
        # A configured issuer may name another host (e.g. a public URL); the endpoints are
        # still where this server listens.
        issuer = str(app_options.get("issuer") or base).rstrip("/") + "/"
        yield RunningMaskinporten(
            issuer=issuer, token_url=base + "token", jwks_url=base + "jwk", app=app
        )
    finally:
        await runner.cleanup()

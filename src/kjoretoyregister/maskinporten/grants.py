"""Validation of the JWT-bearer grant (RFC 7523) as Maskinporten applies it. No I/O.

The token endpoint runs these steps in order; each raises a :class:`~.errors.TokenError` with
the MP code Digdir documents (fiks-platform.md §2.2, §2.6, §2.7):

1. :func:`parse_assertion`: three base64url segments with JSON objects (MP-011).
2. :func:`authenticate`: ``alg`` in RS256/384/512 (MP-124), exactly one of ``kid``/``x5c``,
   the client named by ``iss`` (MP-100), its key (``kid``: registered, not expired, MP-121) or
   certificate chain (``x5c``: MP-123 shape, MP-120 trust, MP-122 orgnr), then the signature
   (MP-124).
3. :func:`check_claims`: no unknown claims (MP-011), ``aud`` is our issuer (MP-110), ``iat``
   within ±10 s, ``exp − iat`` ≤ 120 s and ``exp`` not passed (MP-130), ``jti`` present.
4. (the caller) ``jti`` not seen before (MP-012), see :class:`ReplayCache`.
5. :func:`authorize`: scopes registered on the client (MP-200), or with ``consumer_org`` a
   delegation covering them (MP-251).

Signature is checked before the claims so that an unauthenticated caller learns nothing about
the claim rules' details from the answers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as stdnum_orgnr

from kjoretoyregister.maskinporten import certs
from kjoretoyregister.maskinporten.errors import (
    MP_CERT_ORGNR_MISMATCH,
    MP_CLIENT_NOT_FOUND,
    MP_EXPIRED_KEY,
    MP_GRANT_REUSED,
    MP_INVALID_AUD,
    MP_INVALID_CERTIFICATE,
    MP_INVALID_PARAMETER,
    MP_INVALID_SIGNATURE,
    MP_INVALID_X5C,
    MP_JWT_EXPIRED,
    MP_NOT_DELEGATED,
    MP_RAR_UNSUPPORTED,
    MP_SCOPE_NOT_REGISTERED,
    AccessDenied,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
)
from kjoretoyregister.maskinporten.state import Client, Delegation

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ALLOWED_ALGS = ("RS256", "RS384", "RS512")
MAX_CLOCK_SKEW_S = 10
MAX_GRANT_LIFETIME_S = 120
CLIENT_AMR_KEY = "private_key_jwt"
CLIENT_AMR_CERT = "virksomhetssertifikat"

# The claims Digdir documents for the grant; anything else is «Invalid assertion» (MP-GRANT).
KNOWN_CLAIMS = frozenset(
    {
        "aud",
        "iss",
        "iat",
        "exp",
        "jti",
        "scope",
        "resource",
        "pid",
        "consumer_org",
        "iss_onbehalfof",
        "authorization_details",
    }
)
_SCOPE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}")
MAX_ASSERTION_CHARS = 32_768
MAX_RESOURCES = 5


@dataclass(frozen=True, slots=True)
class Assertion:
    """A grant split into its parts; nothing in it is trusted yet."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """The client the grant's signature proved, and how it proved it."""

    client: Client
    client_amr: str  # "private_key_jwt" (kid) or "virksomhetssertifikat" (x5c)


@dataclass(frozen=True, slots=True)
class GrantClaims:
    """The grant's claims after the rules in :func:`check_claims`."""

    iss: str
    jti: str
    iat: float
    exp: float
    scopes: tuple[str, ...]
    resource: tuple[str, ...] | None
    consumer_org: str | None
    pid: str | None


@dataclass(frozen=True, slots=True)
class Authorization:
    """Who the token is for: consumer, and supplier + source when delegated."""

    consumer_orgnr: str
    scopes: tuple[str, ...]
    supplier_orgnr: str | None = None
    delegation_source: str | None = None


def _b64url_json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest(
            MP_INVALID_PARAMETER, f"Invalid assertion. The JWT {what} is not base64url JSON"
        ) from exc
    if not isinstance(value, dict):
        raise InvalidRequest(
            MP_INVALID_PARAMETER, f"Invalid assertion. The JWT {what} is not a JSON object"
        )
    return value


def parse_assertion(assertion: str) -> Assertion:
    """Split a compact JWS into header and claims without trusting either.

    Raises:
        InvalidRequest: not three base64url segments holding JSON objects (MP-011).
    """
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise InvalidRequest(MP_INVALID_PARAMETER, "Invalid assertion. The JWT is too large")
    parts = assertion.split(".")
    if len(parts) != 3 or not all(re.fullmatch(r"[A-Za-z0-9_-]*", p) for p in parts):
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Invalid assertion. The assertion is not a signed JWT"
        )
    return Assertion(
        raw=assertion,
        header=_b64url_json(parts[0], "header"),
        claims=_b64url_json(parts[1], "payload"),
    )


def authenticate(
    assertion: Assertion,
    *,
    lookup_client: Callable[[str], Client | None],
    trust_anchors: list[x509.Certificate],
    now: float,
) -> AuthenticatedClient:
    """Find the client named by ``iss`` and verify the grant's signature with its key or cert.

    Raises:
        InvalidRequest: neither or both of ``kid``/``x5c``, or ``iss`` missing (MP-011).
        InvalidGrant: disallowed ``alg`` or bad signature (MP-124), unknown client (MP-100),
            expired key (MP-121), bad ``x5c`` (MP-123), untrusted certificate (MP-120),
            certificate of another organisation (MP-122).
    """
    header = assertion.header
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        # Checked before anything else so that neither `none` nor HS* (with the RSA public
        # key as the HMAC secret, the classic algorithm-confusion attack) ever reaches a verifier.
        raise InvalidGrant(
            MP_INVALID_SIGNATURE,
            f"Invalid assertion. Signature algorithm {alg!r} is not allowed; "
            "use RS256, RS384 or RS512",
        )
    has_kid, has_x5c = "kid" in header, "x5c" in header
    if has_kid == has_x5c:
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid assertion. The JWT header must have exactly one of kid and x5c",
        )
    iss = assertion.claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Invalid assertion. Claim iss (the client_id) is missing"
        )
    client = lookup_client(iss)
    if client is None:
        raise InvalidGrant(
            MP_CLIENT_NOT_FOUND, "Invalid assertion. Client authentication failed. Client not found"
        )

    key: rsa.RSAPublicKey
    if has_kid:
        key = _registered_key(client, header["kid"], now)
        amr = CLIENT_AMR_KEY
    else:
        key = _certificate_key(client, header["x5c"], trust_anchors, now)
        amr = CLIENT_AMR_CERT

    try:
        jwt.PyJWS(algorithms=[alg]).decode_complete(
            assertion.raw, key, algorithms=[alg], options={"enforce_minimum_key_length": True}
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidGrant(
            MP_INVALID_SIGNATURE,
            "Invalid assertion. Client authentication failed. Signature verification failed",
        ) from exc
    return AuthenticatedClient(client=client, client_amr=amr)


def _registered_key(client: Client, kid: object, now: float) -> rsa.RSAPublicKey:
    if not isinstance(kid, str) or not kid:
        raise InvalidRequest(MP_INVALID_PARAMETER, "Invalid assertion. kid must be a string")
    registered = client.key(kid)
    if registered is None:
        raise InvalidGrant(
            MP_INVALID_SIGNATURE,
            "Invalid assertion. Client authentication failed. No key with this kid is "
            "registered on the client",
        )
    if now > registered.expires_at:
        raise InvalidGrant(
            MP_EXPIRED_KEY, "Invalid assertion. Client authentication failed. The key has expired"
        )
    return registered.public_key


def _certificate_key(
    client: Client, x5c: object, anchors: list[x509.Certificate], now: float
) -> rsa.RSAPublicKey:
    try:
        chain = certs.parse_x5c(x5c)
    except certs.X5cError as exc:
        raise InvalidGrant(
            MP_INVALID_X5C, f"Failed to extract certificate from jwt: {exc}"
        ) from exc
    try:
        certs.validate_chain(chain, anchors, dt.datetime.fromtimestamp(now, dt.UTC))
    except certs.CertificateError as exc:
        raise InvalidGrant(
            MP_INVALID_CERTIFICATE, f"Invalid assertion. Invalid certificate: {exc}"
        ) from exc
    cert_orgnr = certs.orgnr_of(chain[0])
    if cert_orgnr is None:
        raise InvalidGrant(
            MP_INVALID_CERTIFICATE,
            "Invalid assertion. Invalid certificate: no organisation number in the subject",
        )
    if cert_orgnr != client.orgnr:
        raise InvalidGrant(
            MP_CERT_ORGNR_MISMATCH,
            "Invalid assertion. Client authentication failed. The certificate's organisation "
            "number is not the client's",
        )
    key = chain[0].public_key()
    if not isinstance(key, rsa.RSAPublicKey):  # validate_chain checked; narrows the type
        raise InvalidGrant(MP_INVALID_CERTIFICATE, "Invalid assertion. Invalid certificate key")
    return key


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int subclass in Python; `"iat": true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(
            MP_INVALID_PARAMETER, f"Invalid assertion. Claim {name} must be a NumericDate"
        )
    return float(value)


def check_claims(claims: dict[str, Any], *, issuer: str, now: float) -> GrantClaims:
    """Apply Maskinporten's rules to the (signature-verified) grant claims.

    Args:
        claims: the JWT payload.
        issuer: our issuer identifier (with trailing slash); ``aud`` must equal it.
        now: epoch seconds.

    Raises:
        InvalidRequest: unknown or malformed claims, missing ``jti``/``scope`` (MP-011),
            ``authorization_details`` (MP-301).
        InvalidGrant: ``aud`` (MP-110); ``iat``/``exp`` (MP-130).
    """
    unknown = sorted(set(claims) - KNOWN_CLAIMS)
    if unknown:
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid assertion. Claims not documented for the JWT grant: " + ", ".join(unknown),
        )
    if "authorization_details" in claims:
        raise InvalidRequest(
            MP_RAR_UNSUPPORTED, "authorization_details is not supported by this Maskinporten"
        )
    if "iss_onbehalfof" in claims:
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Invalid assertion. iss_onbehalfof is not supported"
        )

    aud = claims.get("aud")
    # A one-element array is the same single value (RFC 7519 §4.1.3); two values are not.
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if isinstance(aud, list):
        raise InvalidGrant(
            MP_INVALID_AUD,
            "Invalid assertion. Client authentication failed. Invalid JWT claim aud: "
            "must be a single value",
        )
    if aud != issuer:
        raise InvalidGrant(
            MP_INVALID_AUD,
            "Invalid assertion. Client authentication failed. Invalid JWT claim aud: "
            f"must be the issuer {issuer}",
        )

    iat = _number(claims, "iat")
    exp = _number(claims, "exp")
    if iat > now + MAX_CLOCK_SKEW_S:
        raise InvalidGrant(MP_JWT_EXPIRED, "Invalid assertion. Issue time is after now")
    if iat < now - MAX_CLOCK_SKEW_S:
        raise InvalidGrant(
            MP_JWT_EXPIRED,
            f"Invalid assertion. Issue time is more than {MAX_CLOCK_SKEW_S} s before now",
        )
    if exp <= iat:
        raise InvalidRequest(MP_INVALID_PARAMETER, "Invalid assertion. exp must be after iat")
    if exp - iat > MAX_GRANT_LIFETIME_S:
        raise InvalidGrant(
            MP_JWT_EXPIRED,
            f"Invalid assertion. The JWT lifetime exp - iat exceeds {MAX_GRANT_LIFETIME_S} s",
        )
    if exp < now:
        raise InvalidGrant(MP_JWT_EXPIRED, "Invalid assertion. JWT is expired")

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Invalid assertion. Claim jti is missing or not a string"
        )

    scope = claims.get("scope")
    scopes = tuple(dict.fromkeys(scope.split())) if isinstance(scope, str) else ()
    if not scopes or not all(_SCOPE_TOKEN.fullmatch(s) for s in scopes):
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid assertion. Claim scope must be a space-separated list of scopes",
        )

    return GrantClaims(
        iss=str(claims["iss"]),
        jti=jti,
        iat=iat,
        exp=exp,
        scopes=scopes,
        resource=_resource(claims.get("resource")),
        consumer_org=_consumer_org(claims.get("consumer_org")),
        pid=_pid(claims.get("pid")),
    )


def _resource(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= MAX_RESOURCES
        or not all(isinstance(i, str) and i and len(i) <= 500 for i in items)
    ):
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid assertion. Claim resource must be an array of audience strings",
        )
    return tuple(dict.fromkeys(items))


def _consumer_org(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not (value.isdigit() and stdnum_orgnr.is_valid(value)):
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid assertion. Invalid parameter value: consumer_org must be an organisation "
            "number",
        )
    return value


def _pid(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not (value.isdigit() and fodselsnummer.is_valid(value)):
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Invalid assertion. Invalid parameter value: pid"
        )
    return value


def authorize(
    client: Client,
    grant: GrantClaims,
    *,
    lookup_delegation: Callable[[str, str], Delegation | None],
) -> Authorization:
    """Decide whom the token is for, given the client's scopes and the delegations.

    Raises:
        InvalidRequest: ``consumer_org`` is the client's own organisation (MP-011).
        InvalidScope: a scope is not registered on the client (MP-200).
        AccessDenied: ``consumer_org`` has not delegated every scope to the client (MP-251).
    """
    if grant.consumer_org is None:
        missing = [s for s in grant.scopes if s not in client.scopes]
        if missing:
            raise InvalidScope(
                MP_SCOPE_NOT_REGISTERED,
                "Token request contains invalid scopes for client: " + " ".join(missing),
            )
        return Authorization(consumer_orgnr=client.orgnr, scopes=grant.scopes)

    if grant.consumer_org == client.orgnr:
        raise InvalidRequest(
            MP_INVALID_PARAMETER,
            "Invalid parameter value: consumer_org must not be the client's own organisation",
        )
    delegation = lookup_delegation(client.client_id, grant.consumer_org)
    missing = [s for s in grant.scopes if delegation is None or s not in delegation.scopes]
    if delegation is None or missing:
        raise AccessDenied(
            MP_NOT_DELEGATED,
            "Consumer has not delegated access to the scope to the supplier: " + " ".join(missing),
        )
    return Authorization(
        consumer_orgnr=grant.consumer_org,
        scopes=grant.scopes,
        supplier_orgnr=client.orgnr,
        delegation_source=delegation.source,
    )


class ReplayCache:
    """The ``jti`` values seen, each kept until its grant's ``exp`` (plus the clock skew).

    A grant is only usable until ``exp``, so forgetting its ``jti`` afterwards is safe and keeps
    the memory bounded by (request rate × 130 s).
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(self, client_id: str, jti: str, exp: float, *, now: float) -> None:
        """Record ``jti`` for ``client_id``; raise MP-012 if it was used before.

        Raises:
            InvalidGrant: the grant was used before (MP-012).
        """
        self._prune(now)
        key = (client_id, jti)
        if key in self._seen:
            raise InvalidGrant(MP_GRANT_REUSED, "Grant is used before")
        forget_at = exp + MAX_CLOCK_SKEW_S
        self._seen[key] = forget_at
        heapq.heappush(self._expiry, (forget_at, key))

    def _prune(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, key = heapq.heappop(self._expiry)
            self._seen.pop(key, None)

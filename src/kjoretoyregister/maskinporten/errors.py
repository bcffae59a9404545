"""The errors the token endpoint answers with, in Maskinporten's shape.

Maskinporten answers a refused token request with an OAuth2 error body ``{"error": …,
"error_description": …}``. The description carries an ``MP-nnn`` code and a unique id, so a
supplier can quote it to support (fiks-platform.md §2.6, from Digdir's «Feilsøking» page).

Hierarchy::

    TokenError                  one refused token request: HTTP status, OAuth error, MP code
    ├── InvalidRequest          400 invalid_request: the request or grant is malformed (MP-011)
    ├── UnsupportedGrantType    400 unsupported_grant_type: not the JWT-bearer grant (MP-011)
    ├── InvalidGrant            400 invalid_grant: client authentication or grant rules failed
    ├── InvalidScope            400 invalid_scope: a scope is not registered on the client (MP-200)
    └── AccessDenied            403 access_denied: no delegation for consumer_org (MP-251)

Routes raise these; one middleware in ``app.py`` renders them.
"""

from __future__ import annotations

import uuid
from typing import ClassVar


class TokenError(Exception):
    """A token request Maskinporten refuses; rendered as ``{error, error_description}``."""

    status: ClassVar[int] = 400
    error: ClassVar[str] = "invalid_request"

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{description} ({code})")
        self.code = code
        self.description = description

    def body(self, trace_id: str | None = None) -> dict[str, str]:
        """The JSON body: the description ends with the MP code and a unique id, like Digdir's."""
        trace = trace_id or uuid.uuid4().hex
        return {
            "error": self.error,
            "error_description": f"{self.description} ({self.code}) [{trace}]",
        }


class InvalidRequest(TokenError):
    """The request is malformed: content type, parameters, or a grant that is not a JWT."""

    error = "invalid_request"


class UnsupportedGrantType(TokenError):
    """``grant_type`` is not ``urn:ietf:params:oauth:grant-type:jwt-bearer``."""

    error = "unsupported_grant_type"


class InvalidGrant(TokenError):
    """The grant is well formed but breaks a rule: client, key, certificate, aud, time, jti."""

    error = "invalid_grant"


class InvalidScope(TokenError):
    """A requested scope is not registered on the client."""

    error = "invalid_scope"


class AccessDenied(TokenError):
    """The consumer has not delegated the scope to the supplier (403, like Digdir's «Forbidden»)."""

    status = 403
    error = "access_denied"


# The MP codes this stand-in uses (Digdir's meaning in fiks-platform.md §2.6). Kept in one place
# so the tests and the report can list them.
MP_INVALID_PARAMETER = "MP-011"  # malformed request, grant, claim value, unknown claim
MP_GRANT_REUSED = "MP-012"  # jti seen before
MP_CLIENT_NOT_FOUND = "MP-100"  # iss names no client
MP_INVALID_AUD = "MP-110"  # aud is not our issuer (or not a single value)
MP_INVALID_CERTIFICATE = "MP-120"  # x5c chain not trusted, expired, no orgnr
MP_EXPIRED_KEY = "MP-121"  # registered key or certificate (kid mode) past its expiry
MP_CERT_ORGNR_MISMATCH = "MP-122"  # x5c orgnr ≠ the client owner's orgnr
MP_INVALID_X5C = "MP-123"  # x5c not an array of base64 DER certificates
MP_INVALID_SIGNATURE = "MP-124"  # bad signature, disallowed alg, unknown kid
MP_JWT_EXPIRED = "MP-130"  # iat outside ±10 s, exp − iat > 120 s, exp passed
MP_SCOPE_NOT_REGISTERED = "MP-200"  # scope not on the client
MP_NOT_DELEGATED = "MP-251"  # consumer_org has not delegated the scope to the client owner
MP_RAR_UNSUPPORTED = "MP-301"  # authorization_details (RAR) is not offered by the stand-in

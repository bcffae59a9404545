"""Every error the gateway makes itself, each rendered as a Fiks error body in one place.

Hierarchy (status, errorCode; the code's middle part says where the fault arose)::

    GatewayError
    ├── RouteNotFound            404  KJR-GW-UKJENT-STI
    ├── MethodNotAllowed         405  KJR-GW-METODE
    ├── TokenInvalid             401  KJR-GW-TOKEN          «Klarte ikke å validere access_token»
    ├── IntegrationAuthFailed    401  KJR-GW-INTEGRASJON    «Autentisering feilet for …»
    ├── AccessDenied             403  KJR-GW-TILGANG
    ├── InvalidInput             400  KJR-GW-VALIDERING
    ├── BodyTooLarge             413  KJR-GW-FOR-STOR
    ├── RequestBodyTimeout       408  KJR-GW-KLIENT-TREG      (body slower than body_timeout_s)
    ├── ClientGone               400  KJR-GW-KLIENT-BORTE     (hung up mid-body; never sent)
    ├── JwksUnavailable          503  KJR-MP-JWKS-UTILGJENGELIG
    ├── KonfigUnavailable        503  KJR-GW-KONFIG-UTILGJENGELIG
    ├── AuditUnavailableError    503  KJR-GW-AUDIT-UTILGJENGELIG
    ├── UpstreamTimeout          504  KJR-SVV-TIDSAVBRUDD
    ├── UpstreamUnavailable      502  KJR-SVV-UTILGJENGELIG
    ├── RateLimited              429  KJR-GW-RATE                 (Retry-After)
    ├── Overloaded               503  KJR-GW-OVERBELASTET         (Retry-After)
    ├── Maintenance              503  KJR-GW-VEDLIKEHOLD          (Retry-After)
    └── CircuitOpen              503  KJR-SVV-KRETSBRYTER-APEN    (Retry-After)

Routes and checks raise these; :func:`render` turns them into the response. Bugs stay builtin
exceptions and become a 500 ``KJR-GW-INTERN`` in the app's last-resort handler.
"""

from __future__ import annotations

from typing import ClassVar

import orjson
from aiohttp import web

from kjoretoyregister.fikserror import fiks_error_body

INTERNAL_ERROR_CODE = "KJR-GW-INTERN"


class GatewayError(Exception):
    """Base: a status, a default message and an errorCode; the message may be overridden."""

    status: ClassVar[int] = 500
    error_code: ClassVar[str] = INTERNAL_ERROR_CODE
    default_message: ClassVar[str] = "Intern feil i gatewayen"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.message = message or self.default_message
        #: Seconds for the ``Retry-After`` header (429/503 answers that know when to retry).
        self.retry_after = retry_after
        super().__init__(self.message)


class RouteNotFound(GatewayError):
    """The path is not one of the SVV paths the gateway forwards."""

    status = 404
    error_code = "KJR-GW-UKJENT-STI"
    default_message = "Ukjent sti"


class MethodNotAllowed(GatewayError):
    """A known path called with the wrong HTTP method."""

    status = 405
    error_code = "KJR-GW-METODE"
    default_message = "Metoden er ikke tillatt for denne stien"


class TokenInvalid(GatewayError):
    """The token is missing, unsigned, expired, from another issuer, or lacks ks:fiks."""

    status = 401
    error_code = "KJR-GW-TOKEN"
    default_message = "Klarte ikke å validere access_token"


class IntegrationAuthFailed(GatewayError):
    """IntegrasjonId/IntegrasjonPassord/consumer do not fit; deliberately never says which."""

    status = 401
    error_code = "KJR-GW-INTEGRASJON"

    def __init__(self, integrasjon_id: str) -> None:
        super().__init__(f"Autentisering feilet for integrasjon med id {integrasjon_id}")


class AccessDenied(GatewayError):
    """Authenticated, but the service is not activated for the org or the privilege is missing."""

    status = 403
    error_code = "KJR-GW-TILGANG"
    default_message = "Mangler tilgang"


class InvalidInput(GatewayError):
    """The request body, path or query does not pass the endpoint's validation."""

    status = 400
    error_code = "KJR-GW-VALIDERING"
    default_message = "Ugyldig forespørsel"


class BodyTooLarge(GatewayError):
    """The request body exceeds ``max_body_bytes``."""

    status = 413
    error_code = "KJR-GW-FOR-STOR"
    default_message = "Forespørselen er for stor"


class RequestBodyTimeout(GatewayError):
    """The body did not arrive within ``KJR_HTTP__BODY_TIMEOUT_S``."""

    status = 408
    error_code = "KJR-GW-KLIENT-TREG"
    default_message = "Forespørselens innhold kom ikke fram i tide"


class ClientGone(GatewayError):
    """The client hung up before its body arrived; the answer is recorded but never sent."""

    status = 400
    error_code = "KJR-GW-KLIENT-BORTE"
    default_message = "Klienten lukket forbindelsen før innholdet var mottatt"


class JwksUnavailable(GatewayError):
    """Maskinporten's well-known document or JWKS could not be fetched when it was needed."""

    status = 503
    error_code = "KJR-MP-JWKS-UTILGJENGELIG"
    default_message = "Klarte ikke å hente nøkler fra Maskinporten"


class KonfigUnavailable(GatewayError):
    """The configuration database (integrations, grants) did not answer."""

    status = 503
    error_code = "KJR-GW-KONFIG-UTILGJENGELIG"
    default_message = "Konfigurasjonen er utilgjengelig"


class AuditUnavailableError(GatewayError):
    """The audit sink could not record the request; no data is handed out unaudited."""

    status = 503
    error_code = "KJR-GW-AUDIT-UTILGJENGELIG"
    default_message = "Revisjonsloggen er utilgjengelig; prøv igjen senere"


class UpstreamTimeout(GatewayError):
    """SVV did not answer within the read timeout or the end-to-end deadline."""

    status = 504
    error_code = "KJR-SVV-TIDSAVBRUDD"
    default_message = "Statens vegvesen svarte ikke i tide"


class UpstreamUnavailable(GatewayError):
    """SVV refused the connection, dropped it, or could not be reached."""

    status = 502
    error_code = "KJR-SVV-UTILGJENGELIG"
    default_message = "Fikk ikke kontakt med Statens vegvesen"


class NotMinimisableAnswer(GatewayError):
    """The grant has a field policy and SVV's answer could not be cut down to it: withheld."""

    status = 502
    error_code = "KJR-GW-FELTPOLICY"
    default_message = (
        "Svaret fra Statens vegvesen kunne ikke begrenses til feltpolicyen for tilgangen, "
        "og holdes derfor tilbake"
    )


class RateLimited(GatewayError):
    """A rate limit or daily quota of the org or the integration is used up."""

    status = 429
    error_code = "KJR-GW-RATE"
    default_message = "For mange forespørsler; prøv igjen senere"


class Overloaded(GatewayError):
    """Too many requests in flight in this instance: shed rather than queue."""

    status = 503
    error_code = "KJR-GW-OVERBELASTET"
    default_message = "Tjenesten er overbelastet; prøv igjen om litt"


class Maintenance(GatewayError):
    """The gateway is in maintenance mode."""

    status = 503
    error_code = "KJR-GW-VEDLIKEHOLD"
    default_message = "Tjenesten er midlertidig stengt for vedlikehold"


class CircuitOpen(UpstreamUnavailable):
    """SVV failed repeatedly; calls are refused until a probe succeeds."""

    status = 503
    error_code = "KJR-SVV-KRETSBRYTER-APEN"
    default_message = "Statens vegvesen er utilgjengelig; prøv igjen senere"


def error_response(
    status: int,
    message: str,
    path: str,
    error_code: str,
    correlation_id: str,
    retry_after: int | None = None,
) -> web.Response:
    """Build the Fiks error response; ``errorId`` is the correlation id so support can find it."""
    body = fiks_error_body(status, message, path, error_code=error_code, error_id=correlation_id)
    headers = {"X-Request-ID": correlation_id}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, retry_after))
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def render(exc: GatewayError, path: str, correlation_id: str) -> web.Response:
    """The one place a :class:`GatewayError` becomes an HTTP response."""
    return error_response(
        exc.status, exc.message, path, exc.error_code, correlation_id, exc.retry_after
    )

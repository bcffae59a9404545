"""The simulator's non-functional errors and the one place that renders them.

SVV answers two kinds of "no": *functional* answers (a bulk miss, a search with no hits, a
search parameter error) keep the service's own schemas and are built by the route modules;
everything else (authentication, malformed requests, unknown paths, faults, outages) is an
error body carrying a support correlation id, the ``svvguid``, which SVV asks consumers to
quote when they report a problem::

    {"svvguid": "3f0c2b7e-…", "status": 403, "feilmelding": "Ikke tilgang til tjenesten"}

with the same id in the ``Svvguid`` response header. The field names are our reconstruction
(svv-api.md §5); the header is SVV's.

Hierarchy::

    SvvError                  any non-functional error; carries status and feilmelding
    ├── BadRequest            400: malformed JSON, wrong types, bad dtg, too many items, …
    ├── Unauthorized          401: no or wrong Basic credentials (adds WWW-Authenticate)
    ├── Forbidden             403: the user lacks the role the endpoint needs
    ├── UnsupportedMediaType  415: a body that is not declared as JSON
    ├── QuotaExceeded         422: akfell-style daily quota (adds Retry-After)
    ├── InjectedFault         500: the fault-rate switch fired
    └── Outage                503: the outage switch is on

aiohttp's own ``HTTPException`` s (404, 405, 413) and unexpected exceptions (500) are
rendered in the same shape by :func:`error_response`'s caller, the error middleware.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import orjson
from aiohttp import web

SVVGUID_HEADER = "Svvguid"

# Default feilmelding per status for errors that aiohttp raises itself (404, 405, 413, …).
STANDARD_MESSAGES: dict[int, str] = {
    400: "Ugyldig forespørsel",
    401: "Mangler eller ugyldig brukernavn/passord",
    403: "Ikke tilgang til tjenesten",
    404: "Ukjent tjeneste (sjekk adressen)",
    405: "HTTP-metoden er ikke støttet for denne tjenesten",
    413: "Forespørselen er for stor",
    415: "Innholdet må være JSON (Content-Type: application/json)",
    422: "Dagens kvote er brukt opp",
    500: "Intern feil i tjenesten",
    503: "Tjenesten er midlertidig utilgjengelig",
}


class SvvError(Exception):
    """A non-functional error: rendered as an svvguid body with this status."""

    status = 500

    def __init__(self, feilmelding: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(feilmelding)
        self.feilmelding = feilmelding
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(SvvError):
    """The request cannot be understood: malformed JSON, wrong types, invalid dtg, …"""

    status = 400


class Unauthorized(SvvError):
    """No credentials, or credentials that match no configured user."""

    status = 401


class Forbidden(SvvError):
    """The user is known but lacks the role this endpoint needs."""

    status = 403


class UnsupportedMediaType(SvvError):
    """A request body declared as something other than JSON."""

    status = 415


class QuotaExceeded(SvvError):
    """akfell answers 422 with ``Retry-After`` when the consumer's daily quota is used up."""

    status = 422


class InjectedFault(SvvError):
    """The fault-rate switch chose this request to fail, as a real server sometimes does."""

    status = 500


class Outage(SvvError):
    """The outage switch is on: every service request gets 503."""

    status = 503


def new_svvguid() -> str:
    """A fresh correlation id in SVV's format (a UUID)."""
    return str(uuid.uuid4())


def error_response(
    status: int,
    feilmelding: str | None,
    svvguid: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Render the svvguid error body; the id is repeated in the ``Svvguid`` header.

    Args:
        status: the HTTP status.
        feilmelding: a human-readable Norwegian message; the standard one for the status
            when None.
        svvguid: the request's correlation id.
        headers: extra headers (``WWW-Authenticate``, ``Retry-After``, ``Allow``).
    """
    message = feilmelding or STANDARD_MESSAGES.get(status, "Feil")
    body = orjson.dumps({"svvguid": svvguid, "status": status, "feilmelding": message})
    response = web.Response(status=status, body=body, content_type="application/json")
    response.headers.update(headers or {})
    response.headers[SVVGUID_HEADER] = svvguid
    return response

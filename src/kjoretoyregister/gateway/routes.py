"""The known SVV paths, the privilege each needs, and matching a raw request path to them.

Public path: ``/kjoretoyregister/api/{fiksOrgId}/rest/distribusjon/kjoretoy/v2.0/<tail>``;
upstream path: ``<svv_url>/rest/distribusjon/kjoretoy/v2.0/<tail>``. Only the tails below exist.

Matching works on the *raw* (still percent-encoded) path split on literal ``/``, so an encoded
slash (``%2F``) stays inside its segment and can never add a path level. The one free segment
(``understellsnummer``) is decoded, validated, and re-encoded with ``quote(seg, safe="")``
before it goes upstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, unquote

from kjoretoyregister.gateway.errors import MethodNotAllowed, RouteNotFound
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG

PREFIX = "/kjoretoyregister/api/"
API_PATH = "rest/distribusjon/kjoretoy/v2.0"
TEMPLATE_PREFIX = PREFIX + "{fiksOrgId}/" + API_PATH

# fiksOrgId is a UUID in Fiks; anything that could not be one is not a path we know.
_FIKS_ORG_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class RouteKind(Enum):
    """How the request carries its identifiers (decides validation and audit items)."""

    BULK_BODY = "bulk_body"  # POST, JSON array body
    BULK_PATH = "bulk_path"  # GET, identifier in the last path segment
    SOK = "sok"  # GET, query parameters


@dataclass(frozen=True, slots=True)
class Route:
    """One forwarded endpoint."""

    name: str  # e.g. "bulk/kjennemerke", "sok/eiernavn"
    method: str
    kind: RouteKind
    privilege: str

    @property
    def template(self) -> str:
        """The route template used in logs and audit (no identifiers in it)."""
        suffix = "/{understellsnummer}" if self.kind is RouteKind.BULK_PATH else ""
        return f"{TEMPLATE_PREFIX}/{self.name}{suffix}"


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        Route("bulk/kjennemerke", "POST", RouteKind.BULK_BODY, OPPSLAG),
        Route("bulk/kuid", "POST", RouteKind.BULK_BODY, OPPSLAG),
        Route("bulk/understellsnummer", "GET", RouteKind.BULK_PATH, OPPSLAG),
        Route("sok/kjennemerke", "GET", RouteKind.SOK, OPPSLAG),
        Route("sok/understellsnummer", "GET", RouteKind.SOK, OPPSLAG),
        Route("sok/fodselsnummer", "GET", RouteKind.SOK, EIERSOK),
        Route("sok/organisasjonsnummer", "GET", RouteKind.SOK, EIERSOK),
        Route("sok/kundeid", "GET", RouteKind.SOK, EIERSOK),
        Route("sok/eiernavn", "GET", RouteKind.SOK, EIERSOK),
        Route("sok/kunde", "GET", RouteKind.SOK, EIERSOK),
    )
}


@dataclass(frozen=True, slots=True)
class Match:
    """A matched request: the route, the org, and the decoded path identifier if any."""

    route: Route
    fiks_org_id: str
    path_identifier: str | None = None

    def upstream_path(self) -> str:
        """The path below ``svv_url``; the free segment is re-encoded so it stays one segment."""
        base = f"/{API_PATH}/{self.route.name}"
        if self.path_identifier is None:
            return base
        return f"{base}/{quote(self.path_identifier, safe='')}"


def match(method: str, raw_path: str) -> Match:
    """Find the route for ``raw_path`` (percent-encoded, no query).

    Raises:
        RouteNotFound: not a known path.
        MethodNotAllowed: a known path with another method (HEAD counts as GET's sibling: no).
    """
    if not raw_path.startswith(PREFIX):
        raise RouteNotFound()
    parts = raw_path[len(PREFIX) :].split("/")
    # fiksOrgId / rest / distribusjon / kjoretoy / v2.0 / (bulk|sok) / name [/ identifier]
    if len(parts) not in (7, 8) or "/".join(parts[1:5]) != API_PATH:
        raise RouteNotFound()
    fiks_org_id = parts[0]
    if not _FIKS_ORG_ID.fullmatch(fiks_org_id):
        raise RouteNotFound()
    route = ROUTES.get(f"{parts[5]}/{parts[6]}")
    if route is None:
        raise RouteNotFound()
    identifier: str | None = None
    if route.kind is RouteKind.BULK_PATH:
        if len(parts) != 8 or not parts[7]:
            raise RouteNotFound()
        identifier = unquote(parts[7])
    elif len(parts) != 7:
        raise RouteNotFound()
    if method != route.method:
        raise MethodNotAllowed()
    return Match(route, fiks_org_id, identifier)

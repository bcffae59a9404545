"""The organisation administrator's view of the audit log: an aiohttp sub-application.

Routes (relative to where it is mounted, e.g. ``/admin/audit``):

* ``GET /{fiksOrgId}/entries`` — lookups of that organisation, newest filters as query
  parameters: ``since``, ``until`` (ISO time), ``integrasjonId``, ``identifier`` (+
  ``identifierKind``), ``limit`` (1..1000, default 100), ``after`` (seq, for the next page).
* ``GET /{fiksOrgId}/export.jsonl`` — the same, streamed as JSON lines without a limit.
* ``GET /{fiksOrgId}/usage?month=YYYY-MM`` — requests and items in a month.

Authentication is a bearer token (the scheme of Konfigurasjon's admin API): each token maps to
an :class:`AdminPrincipal` — a platform administrator (``settings.konfig.admin_tokens``, all
organisations) or an organisation administrator (``settings.audit.org_admin_tokens``,
``FIKSORGID:NAME:TOKEN``, that organisation only). Another organisation's path gives 403.
Every read is itself recorded in the chain (actor ``admin-api:<name>``); if that cannot be
recorded the answer is 503 and no data.

Mounting (gateway or admin server)::

    app.add_subapp("/admin/audit", create_admin_audit_app(engine, pz, tokens_from_settings(s)))
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import Engine

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.audit.models import LOOKUP
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.config import Settings
from kjoretoyregister.fikserror import fiks_error_body
from kjoretoyregister.headers import credentials

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """Who is calling: a name for the access log and the organisations they may see."""

    name: str
    fiks_org_ids: frozenset[str] | None  # None = every organisation (platform administrator)

    def may_see(self, fiks_org_id: str) -> bool:
        """Whether this principal may read ``fiks_org_id``'s audit log."""
        return self.fiks_org_ids is None or fiks_org_id in self.fiks_org_ids


def tokens_from_settings(settings: Settings) -> dict[str, AdminPrincipal]:
    """Bearer tokens → principals, from the Konfigurasjon admin tokens and audit org tokens."""
    out: dict[str, AdminPrincipal] = {}
    for secret in settings.konfig.admin_tokens:
        name, _, token = secret.get_secret_value().partition(":")
        out[token] = AdminPrincipal(name, None)
    for secret in settings.audit.org_admin_tokens:
        org, _, rest = secret.get_secret_value().partition(":")
        name, _, token = rest.partition(":")
        out[token] = AdminPrincipal(name, frozenset({org}))
    return out


Authenticate = Callable[[web.Request], Awaitable[AdminPrincipal | None]]


def bearer_authenticator(tokens: Mapping[str, AdminPrincipal]) -> Authenticate:
    """An authenticator comparing the bearer token in constant time with each known one."""
    known = [(t.encode(), p) for t, p in tokens.items()]

    async def authenticate(request: web.Request) -> AdminPrincipal | None:
        given = credentials(request.headers, "Bearer")
        if given is None:
            return None
        found = None
        for token, principal in known:
            if hmac.compare_digest(token, given.encode()):
                found = principal
        return found

    return authenticate


def _error(request: web.Request, status: int, message: str) -> web.Response:
    body = fiks_error_body(status, message, request.path)
    headers = {"WWW-Authenticate": 'Bearer realm="audit"'} if status == 401 else None
    return web.json_response(
        body, status=status, dumps=lambda o: orjson.dumps(o).decode(), headers=headers
    )


class _BadRequest(Exception):
    pass


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO date or time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _filters(request: web.Request, org: str, after: int | None = None) -> query.Filters:
    q = request.query
    return query.Filters(
        fiks_org_id=org,
        integrasjon_id=q.get("integrasjonId"),
        since=_time(q.get("since"), "since"),
        until=_time(q.get("until"), "until"),
        identifier=q.get("identifier"),
        identifier_kind=q.get("identifierKind"),
        kind=LOOKUP,
        after_seq=after,
    )


def create_admin_audit_app(
    engine: Engine,
    pseudonymizer: Pseudonymizer,
    tokens: Mapping[str, AdminPrincipal] | None = None,
    *,
    authenticate: Authenticate | None = None,
) -> web.Application:
    """Build the sub-application (see the module docstring).

    Args:
        engine: the audit database.
        pseudonymizer: the audit keys (to match identifier filters and open identifiers).
        tokens: bearer token → principal; ignored if ``authenticate`` is given.
        authenticate: a custom authenticator (e.g. the admin API's own).
    """
    if authenticate is None:
        authenticate = bearer_authenticator(tokens or {})
    auth = authenticate
    app = web.Application()

    async def guard(request: web.Request) -> AdminPrincipal | web.Response:
        principal = await auth(request)
        if principal is None:
            return _error(request, 401, "missing or unknown bearer token")
        if not principal.may_see(request.match_info["fiksOrgId"]):
            return _error(request, 403, "no access to this organisation's audit log")
        return principal

    async def entries(request: web.Request) -> web.StreamResponse:
        principal = await guard(request)
        if isinstance(principal, web.Response):
            return principal
        org = request.match_info["fiksOrgId"]
        try:
            limit = int(request.query.get("limit", "100"))
            after = int(request.query.get("after", "0"))
            if not 1 <= limit <= MAX_LIMIT or after < 0:
                raise ValueError
            f = _filters(request, org, after)
        except _BadRequest as exc:
            return _error(request, 400, str(exc))
        except ValueError:
            return _error(request, 400, f"limit must be 1..{MAX_LIMIT}, after a seq ≥ 0")

        def run() -> list[dict[str, Any]]:
            rows = query.search(
                engine, pseudonymizer, f, actor=f"admin-api:{principal.name}", limit=limit
            )
            return list(rows)

        try:
            rows = await asyncio.to_thread(run)
        except AuditUnavailable:
            return _error(request, 503, "the audit log cannot record this read; try later")
        body: dict[str, Any] = {"entries": rows}
        if len(rows) == limit:
            body["next"] = {"after": rows[-1]["seq"]}
        return web.json_response(body, dumps=lambda o: orjson.dumps(o).decode())

    async def export(request: web.Request) -> web.StreamResponse:
        principal = await guard(request)
        if isinstance(principal, web.Response):
            return principal
        try:
            f = _filters(request, request.match_info["fiksOrgId"])
        except _BadRequest as exc:
            return _error(request, 400, str(exc))
        rows = query.search(
            engine, pseudonymizer, f, actor=f"admin-api:{principal.name}", action="export-jsonl"
        )
        try:
            try:
                first = await asyncio.to_thread(_next_page, rows)
            except AuditUnavailable:
                return _error(request, 503, "the audit log cannot record this read; try later")
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)
            async for chunk in _chunks(rows, first):
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            # A client that goes away mid-stream must not leave the read transaction open.
            await asyncio.to_thread(rows.close)

    async def usage(request: web.Request) -> web.Response:
        principal = await guard(request)
        if isinstance(principal, web.Response):
            return principal
        month = request.query.get("month", "")
        try:
            query.month_bounds(month)
        except ValueError:
            return _error(request, 400, "month must be YYYY-MM")
        org = request.match_info["fiksOrgId"]
        try:
            rows = await asyncio.to_thread(
                query.usage, engine, month, actor=f"admin-api:{principal.name}", fiks_org_id=org
            )
        except AuditUnavailable:
            return _error(request, 503, "the audit log cannot record this read; try later")
        empty = {"month": month, "fiks_org_id": org, "requests": 0, "items": 0, "billable": False}
        return web.json_response(
            rows[0] if rows else empty, dumps=lambda o: orjson.dumps(o).decode()
        )

    app.router.add_get("/{fiksOrgId}/entries", entries)
    app.router.add_get("/{fiksOrgId}/export.jsonl", export)
    app.router.add_get("/{fiksOrgId}/usage", usage)
    return app


_PAGE_LINES = 200


def _next_page(rows: Iterator[dict[str, Any]]) -> bytes:
    out = bytearray()
    for n, row in enumerate(rows):
        out += orjson.dumps(row) + b"\n"
        if n + 1 >= _PAGE_LINES:
            break
    return bytes(out)


async def _chunks(rows: Iterator[dict[str, Any]], first: bytes) -> AsyncIterator[bytes]:
    # The generator holds one read transaction; each page is pulled in a worker thread so the
    # event loop keeps serving while a large export streams.
    chunk = first
    while chunk:
        yield chunk
        chunk = await asyncio.to_thread(_next_page, rows)


#: Where the gateway (or the admin server) mounts this sub-application.
AUDIT_ADMIN_PREFIX = "/admin/audit"


def admin_audit_app_from_settings(settings: Settings) -> web.Application:
    """The sub-application on ``settings.effective_database_url`` with the configured tokens.

    Owns its engine (disposed on the app's cleanup). Mount it with
    ``create_app(..., mounts={AUDIT_ADMIN_PREFIX: admin_audit_app_from_settings(settings)})``.
    """
    from kjoretoyregister.audit.pseudonyms import pseudonymizer_from_settings
    from kjoretoyregister.store.db import make_engine

    engine = make_engine(settings.effective_database_url)
    app = create_admin_audit_app(
        engine, pseudonymizer_from_settings(settings), tokens_from_settings(settings)
    )

    async def _dispose(_: web.Application) -> None:
        engine.dispose()

    app.on_cleanup.append(_dispose)
    return app

"""The admin REST API: the CLI's operations over HTTP, under ``/admin/api``.

Mounting: :func:`create_admin_app` returns a sub-application whose routes are relative; mount
it with ``parent.add_subapp(ADMIN_API_PREFIX, create_admin_app(factory, settings.konfig))``.
:func:`create_app` does exactly that on an empty root app, for ``admin serve`` and tests.

Authentication: ``Authorization: Bearer <token>`` with one of the tokens configured as
``NAME:TOKEN`` in ``KJR_KONFIG__ADMIN_TOKENS`` (never integration credentials). Tokens are
compared in constant time (SHA-256 of both sides, ``hmac.compare_digest``, every configured
token tried). The NAME becomes the actor ``api:NAME`` in the admin-action log. With no tokens
configured every request is refused. ``GET /admin/api/openapi.json`` needs no token.

Every request is one transaction: the handler runs the service calls in a worker thread
inside ``factory.begin()``, so a failure leaves nothing behind. Errors are Fiks error bodies
(:mod:`kjoretoyregister.fikserror`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.config import KonfigSettings
from kjoretoyregister.fikserror import fiks_error_body
from kjoretoyregister.headers import credentials
from kjoretoyregister.konfig import feltpolicy, grant_policy, schemas, service
from kjoretoyregister.konfig.errors import KonfigError
from kjoretoyregister.logs import get_logger

ADMIN_API_PREFIX = "/admin/api"
MAX_BODY_BYTES = 64 * 1024

log = get_logger(__name__)

_Model = TypeVar("_Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_FACTORY: web.AppKey[sessionmaker[Session]] = web.AppKey("konfig_session_factory")
_TOKENS: web.AppKey[list[tuple[str, bytes]]] = web.AppKey("konfig_admin_tokens")
_ACTOR: web.RequestKey[str] = web.RequestKey("konfig_actor", str)


@dataclass(frozen=True)
class Route:
    """One admin API operation; the OpenAPI document is generated from the route list."""

    method: str
    path: str  # relative to ADMIN_API_PREFIX
    handler: Handler
    summary: str
    status: int = 200
    body: type[BaseModel] | None = None
    response: Any = None  # a model, list[model], or None for no content
    query: tuple[tuple[str, str], ...] = ()  # (name, description)
    public: bool = False


class _ApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


# -- plumbing -------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, *, no_store: bool = False) -> web.Response:
    headers = {"Cache-Control": "no-store"} if no_store else None
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _error(request: web.Request, status: int, message: str, code: str) -> web.Response:
    body = fiks_error_body(status, message, request.path, error_code=code)
    headers = {"WWW-Authenticate": 'Bearer realm="kjoretoyregister-admin"'} if status == 401 else {}
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


async def _body(request: web.Request, model: type[_Model]) -> _Model:
    try:
        raw = await request.read()
        data = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise _ApiError(400, "request body is not valid JSON", "KJR-ADMIN-JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise _ApiError(400, f"invalid request body: {problems}", "KJR-ADMIN-BODY") from None


def _query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _ApiError(400, f"{name} must be an integer", "KJR-ADMIN-QUERY") from None


async def _unit_of_work(request: web.Request, work: Callable[[Session], Any]) -> Any:
    """Run ``work`` in one committed transaction, in a worker thread (DB I/O and Argon2)."""
    factory = request.config_dict[_FACTORY]

    def run() -> Any:
        with factory.begin() as session:
            return _dump(work(session))

    return await asyncio.to_thread(run)


def _actor(request: web.Request) -> str:
    return request[_ACTOR]


def _parse_tokens(settings: KonfigSettings) -> list[tuple[str, bytes]]:
    tokens = []
    for item in settings.admin_tokens:
        name, _, token = item.get_secret_value().partition(":")
        tokens.append((name.strip(), hashlib.sha256(token.encode()).digest()))
    return tokens


def _authenticate(request: web.Request) -> str | None:
    """The NAME of the matching admin token, or None. Constant time in the token tried."""
    given = credentials(request.headers, "Bearer")
    if given is None:
        return None
    digest = hashlib.sha256(given.encode()).digest()
    found: str | None = None
    for name, expected in request.config_dict[_TOKENS]:
        if hmac.compare_digest(digest, expected) and found is None:
            found = name
    return found


@web.middleware
async def _errors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    route: Route | None = getattr(request.match_info.handler, "admin_route", None)
    try:
        if route is None or not route.public:
            name = _authenticate(request)
            if name is None:
                return _error(request, 401, "admin credentials missing or wrong", "KJR-ADMIN-AUTH")
            request[_ACTOR] = f"api:{name}"
        return await handler(request)
    except KonfigError as exc:
        return _error(request, exc.status, exc.message, exc.error_code)
    except _ApiError as exc:
        return _error(request, exc.status, exc.message, exc.code)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(request, exc.status, exc.reason, f"KJR-ADMIN-HTTP-{exc.status}")
    except SQLAlchemyError:
        log.exception("admin_api.database_error")
        return _error(request, 503, "the configuration database is unavailable", "KJR-ADMIN-DB")
    except Exception:
        log.exception("admin_api.internal_error")
        return _error(request, 500, "internal error", "KJR-ADMIN-INTERN")


# -- handlers -------------------------------------------------------------------------------


async def list_orgs(request: web.Request) -> web.Response:
    return _json(
        await _unit_of_work(
            request,
            lambda s: [schemas.OrgOut.model_validate(o) for o in service.list_orgs(s)],
        )
    )


async def create_org(request: web.Request) -> web.Response:
    body = await _body(request, schemas.OrgCreate)
    actor = _actor(request)

    def work(s: Session) -> schemas.OrgOut:
        org = service.create_org(s, body.navn, body.orgnr, body.id, actor=actor)
        return schemas.OrgOut.model_validate(org)

    return _json(await _unit_of_work(request, work), 201)


async def show_org(request: web.Request) -> web.Response:
    org_id = request.match_info["org_id"]
    return _json(
        await _unit_of_work(
            request, lambda s: schemas.OrgOverviewOut.of(service.org_overview(s, org_id))
        )
    )


async def activate(request: web.Request) -> web.Response:
    org_id, actor = request.match_info["org_id"], _actor(request)
    return _json(
        await _unit_of_work(
            request,
            lambda s: schemas.ActivationOut.model_validate(
                service.activate(s, org_id, actor=actor)
            ),
        )
    )


async def deactivate(request: web.Request) -> web.Response:
    org_id, actor = request.match_info["org_id"], _actor(request)
    return _json(
        await _unit_of_work(
            request,
            lambda s: schemas.ActivationOut.model_validate(
                service.deactivate(s, org_id, actor=actor)
            ),
        )
    )


async def list_integrations(request: web.Request) -> web.Response:
    org_id = request.query.get("org")
    include_deleted = request.query.get("include_deleted", "false").lower() == "true"
    return _json(
        await _unit_of_work(
            request,
            lambda s: [
                schemas.IntegrationOut.model_validate(i)
                for i in service.list_integrations(s, org_id, include_deleted=include_deleted)
            ],
        )
    )


async def create_integration(request: web.Request) -> web.Response:
    body = await _body(request, schemas.IntegrationCreate)
    actor = _actor(request)

    def work(s: Session) -> schemas.IntegrationCreated:
        integration, password = service.create_integration(
            s, body.fiks_org_id, body.navn, body.autorisert_orgnr, body.beskrivelse, actor=actor
        )
        return schemas.IntegrationCreated(
            integrasjon_id=integration.id,
            integrasjon_passord=password,
            integrasjon=schemas.IntegrationOut.model_validate(integration),
        )

    return _json(await _unit_of_work(request, work), 201, no_store=True)


async def show_integration(request: web.Request) -> web.Response:
    integration_id = request.match_info["integration_id"]

    def work(s: Session) -> schemas.IntegrationDetail:
        integration = service.get_integration(s, integration_id)
        grants = service.list_grants(s, integrasjon_id=integration.id)
        return schemas.IntegrationDetail(
            integrasjon=schemas.IntegrationOut.model_validate(integration),
            tilganger=[schemas.GrantOut.model_validate(g) for g in grants],
        )

    return _json(await _unit_of_work(request, work))


async def new_password(request: web.Request) -> web.Response:
    integration_id, actor = request.match_info["integration_id"], _actor(request)

    def work(s: Session) -> schemas.Credentials:
        integration, password = service.new_password(s, integration_id, actor=actor)
        return schemas.Credentials(integrasjon_id=integration.id, integrasjon_passord=password)

    return _json(await _unit_of_work(request, work), no_store=True)


async def delete_integration(request: web.Request) -> web.Response:
    integration_id, actor = request.match_info["integration_id"], _actor(request)
    return _json(
        await _unit_of_work(
            request,
            lambda s: schemas.IntegrationOut.model_validate(
                service.delete_integration(s, integration_id, actor=actor)
            ),
        )
    )


async def list_integration_grants(request: web.Request) -> web.Response:
    integration_id = request.match_info["integration_id"]
    return _json(
        await _unit_of_work(
            request,
            lambda s: [
                schemas.GrantOut.model_validate(g)
                for g in service.list_grants(s, integrasjon_id=integration_id)
            ],
        )
    )


async def add_grant(request: web.Request) -> web.Response:
    body = await _body(request, schemas.GrantCreate)
    integration_id, actor = request.match_info["integration_id"], _actor(request)

    def work(s: Session) -> schemas.GrantOut:
        row = service.grant(
            s,
            integration_id,
            body.fiks_org_id,
            body.privilege,
            purpose_required=body.purpose_required,
            actor=actor,
        )
        return schemas.GrantOut.model_validate(row)

    return _json(await _unit_of_work(request, work), 201)


async def revoke_grant(request: web.Request) -> web.Response:
    m, actor = request.match_info, _actor(request)
    await _unit_of_work(
        request,
        lambda s: service.revoke(s, m["integration_id"], m["org_id"], m["privilege"], actor=actor),
    )
    return web.Response(status=204)


async def set_feltpolicy(request: web.Request) -> web.Response:
    body = await _body(request, schemas.FeltpolicySet)
    m, actor = request.match_info, _actor(request)

    def work(s: Session) -> schemas.GrantOut:
        policy = grant_policy.resolve(body.preset, body.versjon, body.felter, body.kundefelter)
        row = grant_policy.set_field_policy(
            s, m["integration_id"], m["org_id"], m["privilege"], policy, actor=actor
        )
        return schemas.GrantOut.model_validate(row)

    return _json(await _unit_of_work(request, work))


async def list_feltpolicy(request: web.Request) -> web.Response:
    return _json(_dump([schemas.FeltpolicyOut(**p.as_dict()) for p in feltpolicy.presets()]))


async def admin_log(request: web.Request) -> web.Response:
    limit = _query_int(request, "limit", 100)
    target = request.query.get("target")
    return _json(
        await _unit_of_work(
            request,
            lambda s: [
                schemas.AdminLogEntryOut.model_validate(e)
                for e in service.admin_log(s, limit=limit, target_id=target)
            ],
        )
    )


async def openapi(request: web.Request) -> web.Response:
    from kjoretoyregister.konfig.openapi import build_document

    return _json(build_document(ROUTES, ADMIN_API_PREFIX))


# -- the route table ------------------------------------------------------------------------

_INTEGRATION = "/integrations/{integration_id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/openapi.json", openapi, "This OpenAPI document", public=True),
    Route("GET", "/orgs", list_orgs, "List organisations", response=list[schemas.OrgOut]),
    Route(
        "POST",
        "/orgs",
        create_org,
        "Register an organisation",
        201,
        schemas.OrgCreate,
        schemas.OrgOut,
    ),
    Route(
        "GET", "/orgs/{org_id}", show_org, "Everything about an organisation",
        response=schemas.OrgOverviewOut,
    ),
    Route(
        "POST", "/orgs/{org_id}/activate", activate, "Activate Kjøretøyregister for the org",
        response=schemas.ActivationOut,
    ),
    Route(
        "POST", "/orgs/{org_id}/deactivate", deactivate,
        "Deactivate Kjøretøyregister for the org (grants stay, calls get 403)",
        response=schemas.ActivationOut,
    ),
    Route(
        "GET", "/integrations", list_integrations, "List integrations",
        response=list[schemas.IntegrationOut],
        query=(("org", "Only those owned by this fiksOrgId"),
               ("include_deleted", "true to include deleted integrations")),
    ),
    Route(
        "POST", "/integrations", create_integration,
        "Create an integration; the password is in this answer only", 201,
        schemas.IntegrationCreate, schemas.IntegrationCreated,
    ),
    Route(
        "GET", _INTEGRATION, show_integration, "An integration and its grants",
        response=schemas.IntegrationDetail,
    ),
    Route(
        "POST", _INTEGRATION + "/new-password", new_password,
        "Generate a new password; the old one stops working at once",
        response=schemas.Credentials,
    ),
    Route(
        "DELETE", _INTEGRATION, delete_integration,
        "Delete an integration; every call with it stops at once",
        response=schemas.IntegrationOut,
    ),
    Route(
        "GET", _INTEGRATION + "/grants", list_integration_grants, "Grants of an integration",
        response=list[schemas.GrantOut],
    ),
    Route(
        "POST", _INTEGRATION + "/grants", add_grant,
        "Grant a privilege on an organisation (service must be activated)", 201,
        schemas.GrantCreate, schemas.GrantOut,
    ),
    Route(
        "DELETE", _INTEGRATION + "/grants/{org_id}/{privilege}", revoke_grant,
        "Revoke a grant", 204,
    ),
    Route(
        "PUT", _INTEGRATION + "/grants/{org_id}/{privilege}/feltpolicy", set_feltpolicy,
        "Set a grant's field policy (a preset or custom field lists; {} clears it)",
        body=schemas.FeltpolicySet, response=schemas.GrantOut,
    ),
    Route(
        "GET", "/feltpolicy", list_feltpolicy, "Published field-policy presets and their fields",
        response=list[schemas.FeltpolicyOut],
    ),
    Route(
        "GET", "/log", admin_log, "The admin-action log, newest first",
        response=list[schemas.AdminLogEntryOut],
        query=(("limit", "At most this many entries (1–10000, default 100)"),
               ("target", "Only entries about this org or integration id")),
    ),
)  # fmt: skip


# -- factories ------------------------------------------------------------------------------


def create_admin_app(
    session_factory: sessionmaker[Session], settings: KonfigSettings
) -> web.Application:
    """The admin API as a sub-application; mount it at :data:`ADMIN_API_PREFIX`.

    Args:
        session_factory: sessions on the Konfigurasjon database (already migrated).
        settings: the ``konfig`` settings section (admin tokens).

    Returns:
        An aiohttp application with relative routes (``/orgs``, ``/openapi.json``, …).
    """
    app = web.Application(middlewares=[_errors_and_auth], client_max_size=MAX_BODY_BYTES)
    app[_FACTORY] = session_factory
    app[_TOKENS] = _parse_tokens(settings)
    if not app[_TOKENS]:
        log.warning("admin_api.no_tokens", hint="set KJR_KONFIG__ADMIN_TOKENS; all refused")
    for route in ROUTES:
        handler = _tag(route)
        app.router.add_route(route.method, route.path, handler)
    return app


def _tag(route: Route) -> Handler:
    """The handler with its Route attached, so the middleware knows if it is public."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await route.handler(request)

    handler.admin_route = route  # type: ignore[attr-defined]
    handler.__name__ = route.handler.__name__
    return handler


def create_app(session_factory: sessionmaker[Session], settings: KonfigSettings) -> web.Application:
    """A root application serving only the admin API at ``/admin/api`` (``admin serve``)."""
    root = web.Application(client_max_size=MAX_BODY_BYTES)
    root.add_subapp(ADMIN_API_PREFIX, create_admin_app(session_factory, settings))
    return root

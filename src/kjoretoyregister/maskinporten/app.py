"""The HTTP face of the stand-in: metadata, JWKS and the token endpoint (aiohttp.web).

Routes (relative to the issuer, so the app can be mounted under a prefix):

- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata like Digdir's.
- ``GET /jwk``: the public signing keys (the active one and rotated ones in their overlap).
- ``POST /token``: the JWT-bearer grant → an access token, or ``{error, error_description}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from kjoretoyregister.logs import get_logger
from kjoretoyregister.maskinporten import grants, keys, tokens
from kjoretoyregister.maskinporten.errors import (
    MP_INVALID_PARAMETER,
    InvalidRequest,
    TokenError,
    UnsupportedGrantType,
)
from kjoretoyregister.maskinporten.idporten import OidcClient, TestPerson, create_idporten_app
from kjoretoyregister.maskinporten.replay import MemoryReplay, ReplayStore
from kjoretoyregister.maskinporten.state import MaskinportenState

STATE_KEY = web.AppKey("maskinporten_state", MaskinportenState)


@dataclass(frozen=True, slots=True)
class _Config:
    issuer: str | None
    token_lifetime_s: int
    clock: Callable[[], float]


CONFIG_KEY = web.AppKey("maskinporten_config", _Config)
REPLAY_KEY = web.AppKey("maskinporten_replay", ReplayStore)

WELL_KNOWN_PATH = "/.well-known/oauth-authorization-server"
JWK_PATH = "/jwk"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a password
# A grant with an x5c chain of a few certificates is ~10 KB; anything far larger is not a grant.
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 20

_log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200, *, no_store: bool = True) -> web.Response:
    # RFC 6749 §5.1: token responses (and errors) must not be cached.
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"} if no_store else {}
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every refusal as Maskinporten's JSON error body; never let bad input be a 500."""
    try:
        return await handler(request)
    except TokenError as exc:
        _log.info("token refused", code=exc.code, error=exc.error, status=exc.status)
        return _json(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = "invalid_request" if exc.status < 500 else "server_error"
        return _json({"error": error, "error_description": exc.reason}, status=exc.status)


def _issuer(request: web.Request, route_path: str) -> str:
    """Our issuer: the configured one, else this request's base URL with a trailing slash.

    Deriving it from the request path (not just the host) keeps it right when the app is
    mounted under a prefix.
    """
    configured = request.app[CONFIG_KEY].issuer
    if configured:
        return configured
    base_path = request.path[: len(request.path) - len(route_path)]
    return f"{request.scheme}://{request.host}{base_path}/"


async def _metadata(request: web.Request) -> web.Response:
    issuer = _issuer(request, WELL_KNOWN_PATH)
    return _json(
        {
            "issuer": issuer,
            "token_endpoint": issuer + TOKEN_PATH.lstrip("/"),
            "jwks_uri": issuer + JWK_PATH.lstrip("/"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "grant_types_supported": [grants.JWT_BEARER],
            "token_endpoint_auth_signing_alg_values_supported": list(grants.ALLOWED_ALGS),
        },
        no_store=False,
    )


async def _jwks(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.reload_if_changed()
    now = request.app[CONFIG_KEY].clock()
    return _json(
        {
            "keys": [
                keys.public_jwk(k.private_key.public_key(), k.kid)
                for k in state.published_keys(now)
            ]
        },
        no_store=False,
    )


def _form(body: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body strictly; 400 on anything odd."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        raise InvalidRequest(MP_INVALID_PARAMETER, "The request body is not a valid form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(MP_INVALID_PARAMETER, f"Parameter {name} is given more than once")
        form[name] = value
    return form


async def _token(request: web.Request) -> web.Response:
    if request.content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest(
            MP_INVALID_PARAMETER, "Content-Type must be application/x-www-form-urlencoded"
        )
    form = _form(await request.read())
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest(MP_INVALID_PARAMETER, "Missing parameter grant_type")
    if grant_type != grants.JWT_BEARER:
        raise UnsupportedGrantType(
            MP_INVALID_PARAMETER, f"Only grant_type {grants.JWT_BEARER} is supported"
        )
    assertion_text = form.get("assertion")
    if not assertion_text:
        raise InvalidRequest(MP_INVALID_PARAMETER, "Missing parameter assertion")

    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    state.reload_if_changed()
    now = config.clock()
    issuer = _issuer(request, TOKEN_PATH)

    assertion = grants.parse_assertion(assertion_text)
    who = grants.authenticate(
        assertion, lookup_client=state.client, trust_anchors=state.trust_anchors, now=now
    )
    claims = grants.check_claims(assertion.claims, issuer=issuer, now=now)
    await request.app[REPLAY_KEY].check_and_add(
        who.client.client_id, claims.jti, claims.exp, now=now
    )
    authz = grants.authorize(who.client, claims, lookup_delegation=state.delegation)

    lifetime = config.token_lifetime_s
    access_claims = tokens.access_token_claims(
        issuer=issuer,
        client_id=who.client.client_id,
        client_amr=who.client_amr,
        consumer_orgnr=authz.consumer_orgnr,
        scopes=authz.scopes,
        iat=int(now),
        lifetime_s=lifetime,
        resource=claims.resource,
        supplier_orgnr=authz.supplier_orgnr,
        delegation_source=authz.delegation_source,
        pid=claims.pid,
    )
    access_token = tokens.sign_access_token(access_claims, state.signing_key)
    _log.debug(
        "token issued",
        client_id=who.client.client_id,
        client_amr=who.client_amr,
        delegated=authz.supplier_orgnr is not None,
    )
    return _json(tokens.token_response(access_token, expires_in=lifetime, scopes=authz.scopes))


def create_app(
    state: MaskinportenState,
    *,
    issuer: str | None = None,
    token_lifetime_s: int = 120,
    clock: Callable[[], float] = time.time,
    idporten_clients: Sequence[OidcClient] = (),
    idporten_persons: Sequence[TestPerson] = (),
    replay: ReplayStore | None = None,
) -> web.Application:
    """Build the stand-in's web application.

    Args:
        state: the persistent state (keys, clients, delegations, CA).
        issuer: our issuer identifier; a trailing slash is added if missing. None derives it
            per request from the URL the client used (``http://host:port/``).
        token_lifetime_s: access token lifetime (``expires_in``), default 120 s as Digdir's.
        clock: epoch-seconds clock; tests pass an offset clock to exercise the time rules.
        idporten_clients: if any, also serve the ID-porten-like person login (OIDC) for these
            relying parties under ``/idporten`` (see :mod:`.idporten`), signing with our keys.
        idporten_persons: the test persons its login page offers.
        replay: where used grant ``jti`` values are kept (default: this process's memory;
            :class:`.replay.RedisReplay` when several instances serve one address).
    """
    if token_lifetime_s < 1:
        raise ValueError("token_lifetime_s must be ≥ 1")
    if issuer is not None and not issuer.startswith(("http://", "https://")):
        raise ValueError("issuer must be an http(s) URL")
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    store = replay if replay is not None else MemoryReplay()
    app[REPLAY_KEY] = store

    async def _close_replay(_: web.Application) -> None:
        await store.close()

    app.on_cleanup.append(_close_replay)
    app[CONFIG_KEY] = _Config(
        issuer=None if issuer is None else issuer.rstrip("/") + "/",
        token_lifetime_s=token_lifetime_s,
        clock=clock,
    )
    app.router.add_get(WELL_KNOWN_PATH, _metadata)
    app.router.add_get(JWK_PATH, _jwks)
    app.router.add_post(TOKEN_PATH, _token)
    if idporten_clients:
        idporten_issuer = None if issuer is None else issuer.rstrip("/") + "/idporten/"
        app.add_subapp(
            "/idporten",
            create_idporten_app(
                state, clients=idporten_clients, persons=idporten_persons, issuer=idporten_issuer
            ),
        )
    return app

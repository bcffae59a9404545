"""An ID-porten-like OpenID Connect provider for persons: the portal's login in demo and tests.

Mounted by :func:`kjoretoyregister.maskinporten.app.create_app` under ``/idporten`` when it is
given clients; it shares the Maskinporten stand-in's signing keys (``MaskinportenState``), so
ID tokens and access tokens are checked against one JWKS.

Like ID-porten's test environment with *TestID*, the authorize endpoint shows a page where the
tester picks a synthetic test person (or types a synthetic fødselsnummer and a name) instead of
authenticating. Everything else follows ID-porten's OIDC profile:

- ``GET  /.well-known/openid-configuration``: discovery document.
- ``GET  /authorize``: authorization code flow; PKCE ``S256`` required, ``state`` and ``nonce``
  echoed; ``POST /authorize`` is the person picker's form.
- ``POST /token``: ``authorization_code`` grant with ``client_secret_basic`` or
  ``client_secret_post``; the code is single-use, short-lived and bound to the client, the
  redirect URI and the PKCE challenge.
- ``GET  /jwks``: the same public keys as Maskinporten's ``/jwk``.
- ``GET  /userinfo``: ``sub`` and ``pid`` for the access token.

ID tokens carry ``iss``, ``aud``, ``sub`` (a pairwise-looking stable id), ``pid``, ``acr``
(``idporten-loa-substantial``), ``amr`` (``["TestID"]``), ``nonce``, ``auth_time``, ``iat``,
``exp``, ``jti`` and the person's name (``name``, like ID-porten's ``profile`` scope in TestID).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import orjson
from aiohttp import web
from stdnum.no import fodselsnummer as stdnum_fnr

from kjoretoyregister.headers import credentials
from kjoretoyregister.logs import get_logger
from kjoretoyregister.maskinporten import keys
from kjoretoyregister.maskinporten.state import MaskinportenState

_log = get_logger(__name__)

ACR_SUBSTANTIAL = "idporten-loa-substantial"
AMR_TESTID = "TestID"
SYNTHETIC_MONTH_OFFSET = 80
CODE_LIFETIME_S = 60
ID_TOKEN_LIFETIME_S = 120
MAX_BODY_BYTES = 16 * 1024
MAX_NAME = 100

DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a password
JWKS_PATH = "/jwks"
USERINFO_PATH = "/userinfo"


# -- synthetic fødselsnummer ----------------------------------------------------------------


def make_synthetic_fnr(birth: date, individual: int) -> str:
    """A synthetic fødselsnummer (month + 80) with both mod-11 check digits valid.

    Some individual numbers give no valid check digit; the next one that does is used, so
    the result is deterministic for ``(birth, individual)``.

    Args:
        birth: the birth date (the century rule of the individual digits is not applied:
            synthetic numbers are test data, only the check digits matter to validators).
        individual: the first three-digit individual number to try (0–999).
    """
    for candidate in range(individual, 1000):
        base = (
            f"{birth.day:02d}{birth.month + SYNTHETIC_MONTH_OFFSET:02d}"
            f"{birth.year % 100:02d}{candidate:03d}"
        )
        k1 = stdnum_fnr.calc_check_digit1(base)
        k2 = stdnum_fnr.calc_check_digit2(base + k1)
        number = base + k1 + k2
        if len(number) == 11 and is_synthetic_fnr(number):
            return number
    raise ValueError("no individual number from the given one gives valid check digits")


def is_synthetic_fnr(value: str) -> bool:
    """11 digits, month + 80 (synthetic), a real day of month, and both check digits valid."""
    if len(value) != 11 or not value.isdigit():
        return False
    day, month = int(value[0:2]), int(value[2:4]) - SYNTHETIC_MONTH_OFFSET
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    try:
        k1 = stdnum_fnr.calc_check_digit1(value[:9])
        k2 = stdnum_fnr.calc_check_digit2(value[:10])
    except (ValueError, IndexError):
        return False
    return value[9] == k1 and value[10] == k2


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestPerson:
    """A synthetic person offered on the login page."""

    __test__ = False  # not a pytest test class despite the name

    pid: str
    name: str


@dataclass(frozen=True, slots=True)
class OidcClient:
    """A registered relying party: id, secret and the exact redirect URIs it may use.

    ``redirect_uri_prefixes`` lets a demo accept any port on loopback (ID-porten itself wants
    exact URIs); empty by default.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...] = ()
    redirect_uri_prefixes: tuple[str, ...] = ()

    def allows(self, redirect_uri: str) -> bool:
        """Whether ``redirect_uri`` is registered (exactly, or under a registered prefix)."""
        if redirect_uri in self.redirect_uris:
            return True
        return any(redirect_uri.startswith(p) for p in self.redirect_uri_prefixes)


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    pid: str
    name: str
    expires: float
    auth_time: int


@dataclass(slots=True)
class _Provider:
    state: MaskinportenState
    clients: dict[str, OidcClient]
    persons: tuple[TestPerson, ...]
    issuer: str | None
    clock: Callable[[], float]
    codes: dict[str, _Code] = field(default_factory=dict)
    access_tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)

    def prune(self) -> None:
        now = self.clock()
        for code in [c for c, v in self.codes.items() if v.expires < now]:
            del self.codes[code]
        for tok in [t for t, v in self.access_tokens.items() if v[2] < now]:
            del self.access_tokens[tok]


PROVIDER_KEY = web.AppKey("idporten_provider", _Provider)


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _json(body: Any, status: int = 200, *, no_store: bool = True) -> web.Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"} if no_store else {}
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _issuer(request: web.Request, route_path: str) -> str:
    provider = request.app[PROVIDER_KEY]
    if provider.issuer:
        return provider.issuer
    base_path = request.path[: len(request.path) - len(route_path)]
    return f"{request.scheme}://{request.host}{base_path}/"


def _sub(pid: str, client_id: str) -> str:
    """A stable pairwise subject per person and client, as ID-porten gives (not the pid).

    Unkeyed: this is a stand-in with synthetic persons only; ID-porten's is secret-keyed.
    """
    digest = hashlib.sha256(f"kjr-idporten-sub:{client_id}:{pid}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


# -- handlers -------------------------------------------------------------------------------


async def _discovery(request: web.Request) -> web.Response:
    issuer = _issuer(request, DISCOVERY_PATH)
    return _json(
        {
            "issuer": issuer,
            "authorization_endpoint": issuer + AUTHORIZE_PATH.lstrip("/"),
            "token_endpoint": issuer + TOKEN_PATH.lstrip("/"),
            "jwks_uri": issuer + JWKS_PATH.lstrip("/"),
            "userinfo_endpoint": issuer + USERINFO_PATH.lstrip("/"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": [ACR_SUBSTANTIAL, "idporten-loa-high"],
            "claims_supported": ["iss", "sub", "aud", "pid", "acr", "amr", "nonce", "name"],
        },
        no_store=False,
    )


async def _jwks(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER_KEY]
    provider.state.reload_if_changed()
    now = provider.clock()
    return _json(
        {
            "keys": [
                keys.public_jwk(k.private_key.public_key(), k.kid)
                for k in provider.state.published_keys(now)
            ]
        },
        no_store=False,
    )


_AUTHZ_PARAMS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")


def _authorize_params(query: Mapping[str, str]) -> dict[str, str]:
    """Check an authorization request; raise :class:`_OAuthError` for a bad one."""
    if query.get("response_type") != "code":
        raise _OAuthError("unsupported_response_type", "response_type must be code")
    if "openid" not in query.get("scope", "").split():
        raise _OAuthError("invalid_scope", "scope must include openid")
    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
        raise _OAuthError("invalid_request", "PKCE with code_challenge_method S256 is required")
    if not query.get("state"):
        raise _OAuthError("invalid_request", "state is required")
    out = {k: query.get(k, "") for k in _AUTHZ_PARAMS}
    if any(len(v) > 512 for v in out.values()):
        raise _OAuthError("invalid_request", "parameter too long")
    return out


def _client_for(provider: _Provider, params: Mapping[str, str]) -> OidcClient:
    client = provider.clients.get(params.get("client_id", ""))
    if client is None:
        raise _OAuthError("invalid_client", "unknown client_id")
    if not client.allows(params.get("redirect_uri", "")):
        raise _OAuthError("invalid_request", "redirect_uri is not registered for this client")
    return client


def _error_page(message: str, status: int = 400) -> web.Response:
    body = (
        '<!doctype html><html lang="nb"><head><meta charset="utf-8"><title>Feil</title></head>'
        f"<body><main><h1>Innloggingen kan ikke fortsette</h1><p>{html.escape(message)}</p>"
        "</main></body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=_PAGE_HEADERS)


_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect after the picker's POST, and that
    # redirect goes to the client's (other-origin) redirect_uri.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1a1a1a}"
    "main{max-width:36rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px}"
    "h1{font-size:1.4rem}button{font:inherit;padding:.6rem 1rem;margin:.25rem 0;"
    "border:2px solid #0b5394;background:#0b5394;color:#fff;border-radius:4px;cursor:pointer;"
    "width:100%;text-align:left}button:focus{outline:3px solid #f0a500;outline-offset:2px}"
    "label{display:block;margin-top:.8rem;font-weight:600}input{font:inherit;padding:.4rem;"
    "width:100%;box-sizing:border-box;border:1px solid #555}fieldset{border:1px solid #999;"
    "margin-top:1rem}.hint{color:#444}"
)


def _picker_page(params: Mapping[str, str], persons: Sequence[TestPerson], error: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items()
    )
    buttons = "".join(
        f'<form method="post">{hidden}<input type="hidden" name="pid" value="{p.pid}">'
        f'<input type="hidden" name="name" value="{html.escape(p.name)}">'
        f'<button type="submit">{html.escape(p.name)} ({p.pid})</button></form>'
        for p in persons
    )
    err = f'<p role="alert"><strong>{html.escape(error)}</strong></p>' if error else ""
    return (
        '<!doctype html><html lang="nb"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>TestID – ID-porten (lokal)</title><style>{_STYLE}</style></head><body><main>"
        "<h1>Logg inn med TestID</h1>"
        '<p class="hint">Lokal ID-porten-stand-in. Velg en syntetisk testperson.</p>'
        f"{err}{buttons}"
        f'<form method="post">{hidden}<fieldset><legend>Annen testperson</legend>'
        '<label for="pid">Syntetisk fødselsnummer</label>'
        '<input id="pid" name="pid" inputmode="numeric" autocomplete="off" required '
        'pattern="[0-9]{11}">'
        '<label for="name">Navn</label><input id="name" name="name" required maxlength="100">'
        '<button type="submit">Logg inn</button></fieldset></form>'
        "</main></body></html>"
    )


async def _authorize_get(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER_KEY]
    try:
        params = _authorize_params(request.query)
        _client_for(provider, params)
    except _OAuthError as exc:
        # Never redirect to an unchecked redirect_uri: show the error here (RFC 6749 §4.1.2.1).
        return _error_page(exc.description)
    return web.Response(
        text=_picker_page(params, provider.persons, ""),
        content_type="text/html",
        headers=_PAGE_HEADERS,
    )


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except ValueError as exc:
        raise _OAuthError("invalid_request", "the request body is not a valid form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _OAuthError("invalid_request", f"parameter {name} is given more than once")
        form[name] = value
    return form


async def _authorize_post(request: web.Request) -> web.Response:
    """The person picker's answer: issue a code and redirect back to the client."""
    provider = request.app[PROVIDER_KEY]
    try:
        form = _form(await request.read())
        params = _authorize_params(
            {**form, "response_type": "code", "code_challenge_method": "S256"}
        )
        _client_for(provider, params)
    except _OAuthError as exc:
        return _error_page(exc.description)
    pid = form.get("pid", "").strip()
    name = " ".join(form.get("name", "").split())[:MAX_NAME]
    if not is_synthetic_fnr(pid) or not name:
        page = _picker_page(params, provider.persons, "Ugyldig syntetisk fødselsnummer eller navn")
        return web.Response(text=page, status=400, content_type="text/html", headers=_PAGE_HEADERS)
    provider.prune()
    code = secrets.token_urlsafe(32)
    now = provider.clock()
    provider.codes[code] = _Code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params["code_challenge"],
        nonce=params["nonce"] or None,
        pid=pid,
        name=name,
        expires=now + CODE_LIFETIME_S,
        auth_time=int(now),
    )
    target = params["redirect_uri"]
    sep = "&" if urlsplit(target).query else "?"
    location = target + sep + urlencode({"code": code, "state": params["state"]})
    raise web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


def _client_auth(request: web.Request, form: Mapping[str, str], provider: _Provider) -> OidcClient:
    """client_secret_basic (preferred) or client_secret_post; constant-time secret check."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        basic = credentials(request.headers, "Basic")
        if basic is None:
            raise _OAuthError("invalid_client", "bad Basic credentials", 401)
        try:
            decoded = base64.b64decode(basic, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise _OAuthError("invalid_client", "bad Basic credentials", 401) from exc
        from urllib.parse import unquote

        raw_id, _, raw_secret = decoded.partition(":")
        client_id, secret = unquote(raw_id), unquote(raw_secret)
    client = provider.clients.get(client_id)
    if (
        client is None
        or not secret
        or not hmac.compare_digest(client.client_secret.encode(), secret.encode())
    ):
        raise _OAuthError("invalid_client", "client authentication failed", 401)
    return client


async def _token(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER_KEY]
    try:
        if request.content_type != "application/x-www-form-urlencoded":
            raise _OAuthError("invalid_request", "form body required")
        form = _form(await request.read())
        client = _client_auth(request, form, provider)
        if form.get("grant_type") != "authorization_code":
            raise _OAuthError("unsupported_grant_type", "only authorization_code")
        provider.prune()
        grant = provider.codes.pop(form.get("code", ""), None)  # single use, even on failure
        if grant is None or grant.client_id != client.client_id:
            raise _OAuthError("invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise _OAuthError("invalid_grant", "redirect_uri does not match")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
            _s256(verifier), grant.code_challenge
        ):
            raise _OAuthError("invalid_grant", "PKCE verification failed")
    except _OAuthError as exc:
        _log.info("idporten token refused", error=exc.error)
        return _json({"error": exc.error, "error_description": exc.description}, exc.status)

    now = int(provider.clock())
    issuer = _issuer(request, TOKEN_PATH)
    provider.state.reload_if_changed()
    signing = provider.state.signing_key
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "sub": _sub(grant.pid, client.client_id),
        "pid": grant.pid,
        "name": grant.name,
        "acr": ACR_SUBSTANTIAL,
        "amr": [AMR_TESTID],
        "auth_time": grant.auth_time,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_S,
        "jti": secrets.token_urlsafe(24),
        "locale": "nb",
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    id_token = jwt.encode(
        claims, signing.private_key, algorithm="RS256", headers={"kid": signing.kid}
    )
    access_token = secrets.token_urlsafe(32)
    provider.access_tokens[access_token] = (grant.pid, claims["sub"], now + ID_TOKEN_LIFETIME_S)
    _log.debug("idporten token issued", client_id=client.client_id)
    return _json(
        {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_LIFETIME_S,
            "scope": "openid profile",
        }
    )


async def _userinfo(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER_KEY]
    token = credentials(request.headers, "Bearer") or ""
    provider.prune()
    found = provider.access_tokens.get(token)
    if found is None:
        return _json({"error": "invalid_token"}, 401)
    return _json({"sub": found[1], "pid": found[0]})


@web.middleware
async def _never_500(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except _OAuthError as exc:
        return _json({"error": exc.error, "error_description": exc.description}, exc.status)


def default_test_persons() -> tuple[TestPerson, ...]:
    """A few synthetic persons for the login page when none are given."""
    return (
        TestPerson(make_synthetic_fnr(date(1985, 3, 14), 123), "Kari Testperson"),
        TestPerson(make_synthetic_fnr(date(1972, 11, 2), 456), "Ola Testperson"),
    )


def create_idporten_app(
    state: MaskinportenState,
    *,
    clients: Sequence[OidcClient],
    persons: Sequence[TestPerson] = (),
    issuer: str | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """Build the ID-porten-like provider.

    Args:
        state: the Maskinporten stand-in's state; its signing keys sign the ID tokens.
        clients: the registered relying parties.
        persons: test persons offered on the login page (default: :func:`default_test_persons`).
        issuer: our issuer (trailing slash added); None derives it per request from the URL.
        clock: epoch-seconds clock (tests).
    """
    if issuer is not None and not issuer.startswith(("http://", "https://")):
        raise ValueError("issuer must be an http(s) URL")
    app = web.Application(middlewares=[_never_500], client_max_size=MAX_BODY_BYTES)
    app[PROVIDER_KEY] = _Provider(
        state=state,
        clients={c.client_id: c for c in clients},
        persons=tuple(persons) or default_test_persons(),
        issuer=None if issuer is None else issuer.rstrip("/") + "/",
        clock=clock,
    )
    app.router.add_get(DISCOVERY_PATH, _discovery)
    app.router.add_get(JWKS_PATH, _jwks)
    app.router.add_get(AUTHORIZE_PATH, _authorize_get)
    app.router.add_post(AUTHORIZE_PATH, _authorize_post)
    app.router.add_post(TOKEN_PATH, _token)
    app.router.add_get(USERINFO_PATH, _userinfo)
    return app

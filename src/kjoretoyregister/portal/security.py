"""The portal's one middleware: session cookie, CSRF check, security headers, error pages.

Per request, in order:

1. Load the session named by the cookie (timed-out sessions are dropped; the page then says so).
2. Every ``POST`` must carry the session's synchronizer token in the form field
   ``csrf_token`` (and, if the browser sends ``Origin``, come from this host) — else 403.
   Login callbacks are ``GET`` and protected by OIDC ``state`` instead.
3. Run the handler; HTTP errors the router raises become readable pages, never a 500 trace.
4. Add the headers: no framing (``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``),
   a strict CSP without inline scripts or styles, no referrer, ``nosniff``, and
   ``Cache-Control: no-store`` on every page (pages carry personal data or forms with CSRF
   tokens; only ``/static/`` may be cached).
5. Set or clear the session cookie: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` unless turned off
   for the http demo, scoped to the portal's path.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from kjoretoyregister.logs import get_logger
from kjoretoyregister.portal.sessions import (
    COOKIE_NAME,
    PortalSession,
    SessionStore,
    SessionStoreUnavailable,
)

log = get_logger(__name__)

CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

SESSION_KEY = web.AppKey("portal_sessions", SessionStore)
COOKIE_SECURE_KEY = web.AppKey("portal_cookie_secure", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorPage = Callable[[web.Request, int, str], web.Response]
ERROR_PAGE_KEY: web.AppKey[ErrorPage] = web.AppKey("portal_error_page")
SESSION_RKEY: web.RequestKey[PortalSession | None] = web.RequestKey("portal_session")
TIMED_OUT_RKEY = web.RequestKey("portal_timed_out", bool)


def session_of(request: web.Request) -> PortalSession | None:
    """The request's live session, if any."""
    return request.get(SESSION_RKEY)


def use_session(request: web.Request, session: PortalSession | None) -> None:
    """Make ``session`` the request's session (None = logged out); the cookie follows."""
    request[SESSION_RKEY] = session


def ensure_session(request: web.Request) -> PortalSession:
    """The request's session, creating one (anonymous) if there is none."""
    session = session_of(request)
    if session is None:
        session = request.app[SESSION_KEY].new()
        use_session(request, session)
    return session


def timed_out(request: web.Request) -> bool:
    """Whether the cookie named a session that had timed out."""
    return bool(request.get(TIMED_OUT_RKEY))


def _cookie_path(request: web.Request) -> str:
    return str(request.app.router["home"].url_for())


async def _csrf_ok(request: web.Request, session: PortalSession | None) -> bool:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        return False
    if session is None:
        return False
    form = await request.post()
    token = form.get(CSRF_FIELD)
    return isinstance(token, str) and hmac.compare_digest(token, session.csrf)


@web.middleware
async def portal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """See the module docstring."""
    store = request.app[SESSION_KEY]
    cookie = request.cookies.get(COOKIE_NAME)
    try:
        session, expired = await store.get(cookie)
    except SessionStoreUnavailable:
        log.error("portal_session_store_unavailable")
        return _unavailable(request)
    use_session(request, session)
    request[TIMED_OUT_RKEY] = expired
    response: web.StreamResponse
    try:
        if request.method == "POST" and not await _csrf_ok(request, session):
            log.info(
                "csrf_refused",
                route=request.match_info.route.resource.canonical
                if request.match_info.route.resource
                else "unmatched",
            )
            response = request.app[ERROR_PAGE_KEY](
                request,
                403,
                "Skjemaet kunne ikke sendes (utløpt eller ugyldig sikkerhetsnøkkel). "
                "Last siden på nytt og prøv igjen.",
            )
        else:
            response = await handler(request)
    except SessionStoreUnavailable:
        log.error("portal_session_store_unavailable")
        return _unavailable(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: "Siden finnes ikke.", 405: "Metoden er ikke tillatt her."}.get(
            exc.status, "Forespørselen kunne ikke behandles."
        )
        response = request.app[ERROR_PAGE_KEY](request, exc.status, message)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith(str(request.app.router["static"].url_for(filename=""))):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    current = session_of(request)
    if current is not None:
        try:
            await store.save(current)  # handlers change the session object; keep what they did
        except SessionStoreUnavailable:
            log.error("portal_session_store_unavailable")
            return _unavailable(request)
    _sync_cookie(request, response, cookie)
    return response


def _unavailable(request: web.Request) -> web.StreamResponse:
    response = request.app[ERROR_PAGE_KEY](
        request, 503, "Innloggingen er ikke tilgjengelig akkurat nå. Prøv igjen om litt."
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sync_cookie(request: web.Request, response: web.StreamResponse, sent: str | None) -> None:
    current = session_of(request)
    path = _cookie_path(request)
    if current is None:
        if sent:
            response.del_cookie(COOKIE_NAME, path=path)
        return
    if current.sid != sent:
        response.set_cookie(
            COOKIE_NAME,
            current.sid,
            path=path,
            httponly=True,
            samesite="Lax",
            secure=request.app[COOKIE_SECURE_KEY],
        )

"""Login, logout, the front page and the employee pages (vehicle lookup, owner search).

Lookups and searches are ``POST`` forms and their results are rendered in the ``POST``
response: no plate, VIN, kuid or name ever appears in a URL (browser history, proxy and server
logs, ``Referer``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from multidict import MultiDictProxy

from kjoretoyregister.logs import get_logger
from kjoretoyregister.portal import roles as roles_service
from kjoretoyregister.portal.card import vehicle_card
from kjoretoyregister.portal.models import EIERSOK, OPPSLAG
from kjoretoyregister.portal.oidc import LoginFailed
from kjoretoyregister.portal.security import (
    SESSION_KEY,
    ensure_session,
    session_of,
    timed_out,
    use_session,
)
from kjoretoyregister.portal.sessions import Person
from kjoretoyregister.portal.web import (
    PORTAL_KEY,
    PageContext,
    error_page,
    page_context,
    redirect,
    render,
    url,
)

log = get_logger(__name__)

try:
    OSLO: ZoneInfo | None = ZoneInfo("Europe/Oslo")
except ZoneInfoNotFoundError:  # no tz database on the host: treat input as UTC
    OSLO = None

KIND_LABELS = {
    "kjennemerke": "Kjennemerke",
    "understellsnummer": "Understellsnummer (VIN)",
    "kuid": "Kuid",
}


def _text(form: MultiDictProxy[Any], name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def dtg_from_form(value: str) -> str:
    """``datetime-local`` input (Norwegian local time) → ISO 8601 with offset; "" if empty.

    Raises:
        ValueError: not a date-time.
    """
    value = value.strip()
    if not value:
        return ""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=OSLO or UTC)
    return parsed.isoformat(timespec="seconds")


def as_of_text(value: str) -> str | None:
    """The ``datetime-local`` input as the card shows it: «2020-01-15 kl. 12:30», «2020-01-01»
    at midnight; None if empty or not a date-time."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    day = parsed.date().isoformat()
    if (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0):
        return day
    return f"{day} kl. {parsed:%H:%M}"


# -- login ----------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    """The front page: a login button, or what the person may do."""
    ctx = await page_context(request)
    if ctx.actor is None:
        return render(request, "login.html", ctx)
    return render(request, "home.html", ctx)


TOO_MANY_LOGINS = "For mange innloggingsforsøk. Vent litt og prøv igjen."


def _too_many(request: web.Request, retry_after: int, scope: str) -> web.Response:
    """429 with ``Retry-After``; the attempt is not processed (the middleware adds headers)."""
    log.info("portal_login_rate_limited", scope=scope, retry_after_s=retry_after)
    response = error_page(
        request, 429, f"{TOO_MANY_LOGINS} (Du kan prøve igjen om {retry_after} sekunder.)"
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


async def _address_limited(request: web.Request) -> web.Response | None:
    limiter = request.app[PORTAL_KEY].login_limiter
    wait = await limiter.hit_address(request) if limiter is not None else None
    return None if wait is None else _too_many(request, wait, "address")


def _redirect_uri(request: web.Request) -> str:
    portal = request.app[PORTAL_KEY]
    configured = portal.settings.redirect_uri
    if configured:
        return configured
    return f"{request.scheme}://{request.host}{url(request, 'callback')}"


async def login(request: web.Request) -> web.Response:
    """Start the OIDC login: remember state/nonce/verifier, send the browser to ID-porten."""
    portal = request.app[PORTAL_KEY]
    assert portal.rp is not None
    if (refused := await _address_limited(request)) is not None:
        return refused
    session = ensure_session(request)
    try:
        target, pending = await portal.rp.begin(_redirect_uri(request), portal.clock())
    except LoginFailed as exc:
        return render(request, "login.html", None, status=503, error=str(exc))
    session.login = pending
    return web.Response(status=302, headers={"Location": target})


async def callback(request: web.Request) -> web.Response:
    """ID-porten sends the browser back here with ``code`` and ``state``."""
    portal = request.app[PORTAL_KEY]
    assert portal.rp is not None
    if (refused := await _address_limited(request)) is not None:
        return refused
    session = session_of(request)
    pending = session.login if session is not None else None
    if request.query.get("error"):
        return render(request, "login.html", None, status=400, error="Innloggingen ble avbrutt.")
    if pending is None:
        return render(
            request,
            "login.html",
            None,
            status=400,
            error="Innloggingen kunne ikke fullføres (økten mangler). Prøv igjen.",
        )
    try:
        identity = await portal.rp.finish(
            pending,
            code=request.query.get("code", ""),
            state=request.query.get("state", ""),
            now=portal.clock(),
        )
    except LoginFailed as exc:
        if session is not None:
            session.login = None
        return render(request, "login.html", None, status=400, error=str(exc))
    pseudonym = roles_service.person_key(portal.pseudonymizer, identity.pid)
    limiter = portal.login_limiter
    wait = await limiter.hit_person(pseudonym) if limiter is not None else None
    if wait is not None:
        if session is not None:
            session.login = None
        return _too_many(request, wait, "person")
    # A fresh session id at login: a session id planted before login is worth nothing.
    store = request.app[SESSION_KEY]
    if session is not None:
        await store.delete(session.sid)
    fresh = store.new()
    fresh.person = Person(pid_pseudonym=pseudonym, navn=identity.name, acr=identity.acr)
    use_session(request, fresh)
    log.info("portal_login", acr=identity.acr)
    return redirect(request, "home")


async def logout(request: web.Request) -> web.Response:
    """End the session here (ID-porten's own session is left alone in this stand-in)."""
    session = session_of(request)
    if session is not None:
        await request.app[SESSION_KEY].delete(session.sid)
    use_session(request, None)
    fresh = ensure_session(request)
    fresh.notice = "Du er logget ut."
    return redirect(request, "home")


async def choose_org(request: web.Request) -> web.Response:
    """Switch the organisation the person acts for (one of their own)."""
    ctx = await page_context(request)
    if ctx.actor is None or ctx.session is None:
        return redirect(request, "home")
    form = await request.post()
    wanted = _text(form, "org", 64)
    if any(o.fiks_org_id == wanted for o in ctx.orgs):
        ctx.session.org_id = wanted
    return redirect(request, "home")


# -- employee pages -------------------------------------------------------------------------


async def _need(request: web.Request, role: str) -> PageContext | web.Response:
    ctx = await page_context(request)
    if ctx.actor is None:
        session = ensure_session(request)
        session.notice = (
            "Du ble logget ut fordi økten var utløpt. Logg inn på nytt."
            if timed_out(request)
            else "Logg inn for å fortsette."
        )
        return redirect(request, "home")
    if ctx.org is None or role not in ctx.roles:
        return error_page(request, 403, "Du har ikke tilgang til denne siden.")
    return ctx


async def oppslag_form(request: web.Request) -> web.Response:
    """The lookup form."""
    ctx = await _need(request, OPPSLAG)
    if isinstance(ctx, web.Response):
        return ctx
    return render(request, "oppslag.html", ctx, kinds=KIND_LABELS, form={}, cards=None)


async def oppslag_submit(request: web.Request) -> web.Response:
    """Do the lookup and show the card(s) in this response."""
    ctx = await _need(request, OPPSLAG)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.actor is not None and ctx.org is not None
    portal = request.app[PORTAL_KEY]
    assert portal.gateway is not None
    form = await request.post()
    values = {k: _text(form, k) for k in ("kind", "value", "dtg", "formaal", "saksreferanse")}
    errors: dict[str, str] = {}
    if values["kind"] not in KIND_LABELS:
        errors["kind"] = "Velg hva du søker på"
    if not values["value"].strip():
        errors["value"] = "Fyll ut hva du søker etter"
    if not values["formaal"].strip():
        errors["formaal"] = "Oppgi formålet med oppslaget"
    if not values["saksreferanse"].strip():
        errors["saksreferanse"] = "Oppgi saksreferanse"
    try:
        dtg = dtg_from_form(values["dtg"])
    except ValueError:
        errors["dtg"] = "Ugyldig tidspunkt"
        dtg = ""
    if errors:
        return render(
            request,
            "oppslag.html",
            ctx,
            status=400,
            kinds=KIND_LABELS,
            form=values,
            errors=errors,
            cards=None,
        )
    outcome = await portal.gateway.lookup(
        ctx.actor,
        ctx.org,
        kind=values["kind"],
        value=values["value"],
        dtg=dtg or None,
        purpose=values["formaal"],
        case_reference=values["saksreferanse"],
    )
    as_of = as_of_text(values["dtg"]) if dtg else None
    cards = [vehicle_card(a, asked=values["value"], as_of=as_of) for a in outcome.answers]
    status = 200 if outcome.status in (200, 204) else outcome.status
    return render(
        request,
        "oppslag.html",
        ctx,
        status=status if status < 500 else 502 if status != 503 else 503,
        kinds=KIND_LABELS,
        form=values,
        errors={},
        cards=cards,
        message=outcome.message,
        correlation_id=outcome.correlation_id,
    )


async def eiersok_form(request: web.Request) -> web.Response:
    """The owner search form."""
    ctx = await _need(request, EIERSOK)
    if isinstance(ctx, web.Response):
        return ctx
    return render(request, "eiersok.html", ctx, form={}, result=None)


async def eiersok_submit(request: web.Request) -> web.Response:
    """Search by owner name; paging by POSTing the same form with another page number."""
    ctx = await _need(request, EIERSOK)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.actor is not None and ctx.org is not None
    portal = request.app[PORTAL_KEY]
    assert portal.gateway is not None
    form = await request.post()
    values = {k: _text(form, k, 200) for k in ("navn", "postnummer", "formaal", "saksreferanse")}
    try:
        page = max(1, min(int(_text(form, "side", 6) or "1"), 10_000))
    except ValueError:
        page = 1
    errors: dict[str, str] = {}
    if len(values["navn"].strip()) < 2:
        errors["navn"] = "Skriv minst to tegn av navnet"
    if values["postnummer"].strip() and not (
        values["postnummer"].strip().isdigit() and len(values["postnummer"].strip()) == 4
    ):
        errors["postnummer"] = "Postnummer har fire sifre"
    if not values["formaal"].strip():
        errors["formaal"] = "Oppgi formålet med søket"
    if not values["saksreferanse"].strip():
        errors["saksreferanse"] = "Oppgi saksreferanse"
    if errors:
        return render(
            request, "eiersok.html", ctx, status=400, form=values, errors=errors, result=None
        )
    per_page = portal.settings.page_size
    outcome = await portal.gateway.owner_search(
        ctx.actor,
        ctx.org,
        navn=values["navn"],
        postnummer=values["postnummer"].strip() or None,
        page=page,
        per_page=per_page,
        purpose=values["formaal"],
        case_reference=values["saksreferanse"],
    )
    pages = max(1, -(-outcome.total // per_page)) if outcome.total else 1
    result = {
        "cards": [vehicle_card(a) for a in outcome.answers],
        "total": outcome.total,
        "page": page,
        "pages": pages,
        "message": outcome.message,
        "ok": outcome.status in (200, 204),
    }
    status = 200 if outcome.status in (200, 204) else outcome.status
    return render(
        request, "eiersok.html", ctx, status=status, form=values, errors={}, result=result
    )

"""What every portal handler shares: the app's collaborators, the page context, rendering.

Handlers get a :class:`Portal` (``request.app[PORTAL_KEY]``) and build pages with
:func:`render`, which adds the common context (person, organisations, roles, CSRF token,
``url()`` for named routes, the one-time notice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.config import PortalSettings
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.models import TJENESTE
from kjoretoyregister.portal import roles as roles_service
from kjoretoyregister.portal.login_limit import LoginLimiter
from kjoretoyregister.portal.lookup import Actor, OrgContext, PortalGateway
from kjoretoyregister.portal.models import ADMIN, EIERSOK, OPPSLAG, ROLES
from kjoretoyregister.portal.oidc import RelyingParty
from kjoretoyregister.portal.security import session_of, timed_out
from kjoretoyregister.portal.sessions import PortalSession

T = TypeVar("T")

ROLE_NAMES = {OPPSLAG: "Oppslag", EIERSOK: "Eiersøk", ADMIN: "Administrator"}


@dataclass(slots=True)
class Portal:
    """The portal's collaborators (set up by :func:`.app.create_portal_app`)."""

    settings: PortalSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    audit_sink: AuditSink
    pseudonymizer: Pseudonymizer
    templates: Environment
    clock: Callable[[], float] = time.monotonic
    gateway: PortalGateway | None = None
    rp: RelyingParty | None = None
    login_limiter: LoginLimiter | None = None

    async def db(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a worker thread inside one committed transaction."""

        def work() -> T:
            with self.session_factory.begin() as s:
                return fn(s)

        return await asyncio.to_thread(work)


PORTAL_KEY = web.AppKey("portal", Portal)


def make_templates() -> Environment:
    """The Jinja2 environment: package templates, HTML autoescaping, strict undefined names."""
    env = Environment(
        loader=PackageLoader("kjoretoyregister.portal", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["ROLE_NAMES"] = ROLE_NAMES
    env.globals["ROLES"] = ROLES
    return env


@dataclass(slots=True)
class PageContext:
    """Who is here, which organisations they act for, and the one they picked."""

    session: PortalSession | None
    actor: Actor | None
    orgs: list[OrgContext]
    org: OrgContext | None

    @property
    def roles(self) -> frozenset[str]:
        return self.org.roles if self.org else frozenset()


def _load_orgs(s: Session, pid_pseudonym: str) -> list[OrgContext]:
    out = []
    for org_id, roles in roles_service.roles_of(s, pid_pseudonym).items():
        org = service.get_org(s, org_id)
        activation = service.get_activation(s, org.id)
        out.append(
            OrgContext(
                fiks_org_id=str(org.id),
                orgnr=org.orgnr,
                navn=org.navn,
                active=bool(activation and activation.aktiv and activation.tjeneste == TJENESTE),
                roles=frozenset(roles),
            )
        )
    return sorted(out, key=lambda o: o.navn)


async def page_context(request: web.Request) -> PageContext:
    """The context; roles are read from the database on every request (a removed role bites
    at once)."""
    portal = request.app[PORTAL_KEY]
    session = session_of(request)
    if session is None or session.person is None:
        return PageContext(session, None, [], None)
    person = session.person
    orgs = await portal.db(lambda s: _load_orgs(s, person.pid_pseudonym))
    chosen = next((o for o in orgs if o.fiks_org_id == session.org_id), None)
    if chosen is None and orgs:
        chosen = orgs[0]
        session.org_id = chosen.fiks_org_id
    return PageContext(session, Actor(person.pid_pseudonym, person.navn), orgs, chosen)


def url(request: web.Request, name: str, **parts: str) -> str:
    """The path of a named route (with the portal's mount prefix)."""
    return str(request.app.router[name].url_for(**parts))


def render(
    request: web.Request,
    template: str,
    ctx: PageContext | None,
    *,
    status: int = 200,
    **values: Any,
) -> web.Response:
    """Render ``template`` with the common context and ``values``."""
    portal = request.app[PORTAL_KEY]
    session = session_of(request)
    if session is None and ctx is not None and ctx.session is not None:
        session = ctx.session
    notice = session.pop_notice() if session is not None else None
    if notice is None and timed_out(request):
        notice = "Du ble logget ut fordi økten var utløpt. Logg inn på nytt."
    csrf = session.csrf if session is not None else ""
    text = portal.templates.get_template(template).render(
        url=lambda name, **parts: url(request, name, **parts),
        csrf_token=csrf,
        person=ctx.actor if ctx else None,
        orgs=ctx.orgs if ctx else [],
        org=ctx.org if ctx else None,
        roles=ctx.roles if ctx else frozenset(),
        notice=notice,
        **values,
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """A plain error page (used by the middleware for 403/404/405 and by handlers)."""
    session = session_of(request)
    ctx = None
    if session is not None and session.person is not None:
        ctx = PageContext(
            session, Actor(session.person.pid_pseudonym, session.person.navn), [], None
        )
    return render(request, "error.html", ctx, status=status, message=message, code=status)


def redirect(request: web.Request, name: str, **parts: str) -> web.Response:
    """A 303 to a named route (POST → redirect → GET)."""
    return web.Response(status=303, headers={"Location": url(request, name, **parts)})

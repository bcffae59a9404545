"""The portal application factory.

Routes (relative to where the app is mounted, ``/portal`` in ``demo``):

=======  ==========================================  ==========================================
GET      ``/``                                       front page (login button / menu)
GET      ``/logg-inn``, ``/callback``                OIDC login (code + PKCE) and its return
POST     ``/logg-ut``, ``/org``                      log out; pick the organisation
GET/POST ``/oppslag``                                vehicle lookup (role OPPSLAG)
GET/POST ``/eiersok``                                owner search by name (role EIERSOK)
GET      ``/innsyn``, ``/innsyn/innsyn.{pdf,json}``  Min innsyn: own lookups (any login)
GET      ``/admin``                                  service status, integrations (role ADMIN)
POST     ``/admin/aktiver``                          activate the service
POST     ``/admin/integrasjoner``                    create an integration (password shown once)
POST     ``/admin/integrasjoner/{id}/nytt-passord``  new password (shown once)
POST     ``/admin/integrasjoner/{id}/slett``         delete
POST     ``/admin/integrasjoner/{id}/tilgang``       grant/revoke a privilege
POST     ``/admin/integrasjoner/{id}/feltpolicy``    field policy of a grant (data minimisation)
GET/POST ``/admin/roller``                           person roles
GET/POST ``/admin/logg``, POST ``/admin/logg.csv``   audit log with filters, CSV export
GET      ``/admin/bruk``                             usage per month
GET/POST ``/admin/innsyn``                           innsyn report for a person/org/plate
GET      ``/static/…``                               CSS, the icon and the progressive script
=======  ==========================================  ==========================================
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import Engine

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.config import GatewaySettings, PortalSettings
from kjoretoyregister.gateway.forwarding import Upstream
from kjoretoyregister.logs import redact_protocol_errors
from kjoretoyregister.portal import admin, admin_audit, min_innsyn, views
from kjoretoyregister.portal.db_sessions import DatabaseSessionStore
from kjoretoyregister.portal.login_limit import LoginLimiter
from kjoretoyregister.portal.lookup import PortalGateway
from kjoretoyregister.portal.oidc import RelyingParty
from kjoretoyregister.portal.redis_sessions import RedisSessionStore
from kjoretoyregister.portal.security import (
    COOKIE_SECURE_KEY,
    ERROR_PAGE_KEY,
    SESSION_KEY,
    portal_middleware,
)
from kjoretoyregister.portal.sessions import SessionStore
from kjoretoyregister.portal.web import PORTAL_KEY, Portal, error_page, make_templates
from kjoretoyregister.store.db import make_session_factory

#: Where ``demo`` mounts the portal on the gateway's port.
PORTAL_PREFIX = "/portal"
MAX_FORM_BYTES = 64 * 1024


def _static_dir() -> Path:
    return Path(str(resources.files("kjoretoyregister.portal") / "static"))


def favicon() -> bytes:
    """The portal's icon (SVG; pages link it as ``static/favicon.svg``)."""
    return (_static_dir() / "favicon.svg").read_bytes()


def create_portal_app(
    settings: PortalSettings,
    *,
    engine: Engine,
    audit_sink: AuditSink,
    pseudonymizer: Pseudonymizer,
    gateway: GatewaySettings,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """Build the portal.

    Args:
        settings: the ``portal`` settings (OIDC provider and client, cookies, timeouts).
        engine: the Konfigurasjon/audit database (person roles, integrations, audit reads).
        audit_sink: the gateway's audit sink; persons' lookups are recorded there.
        pseudonymizer: the audit pseudonymizer (person keys, audit reads).
        gateway: the gateway's settings: SVV URL and the gateway's SVV credentials, timeouts.
        clock: seconds clock for session and login timeouts (tests); default wall-clock time
            (sessions are shared by every instance, which must agree on it).

    Returns:
        An application to serve standalone or mount (``parent.add_subapp("/portal", app)``).
    """
    if clock is None:
        clock = time.time
    portal = Portal(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        audit_sink=audit_sink,
        pseudonymizer=pseudonymizer,
        templates=make_templates(),
        clock=clock,
        login_limiter=LoginLimiter(settings),
    )
    redact_protocol_errors()
    app = web.Application(middlewares=[portal_middleware], client_max_size=MAX_FORM_BYTES)
    app[PORTAL_KEY] = portal
    sessions: SessionStore
    if settings.redis_url:
        sessions = RedisSessionStore(
            settings.redis_url,
            prefix=settings.redis_prefix,
            idle_timeout_s=settings.idle_timeout_s,
            absolute_timeout_s=settings.absolute_timeout_s,
            clock=clock,
        )
    else:
        sessions = DatabaseSessionStore(
            engine,
            idle_timeout_s=settings.idle_timeout_s,
            absolute_timeout_s=settings.absolute_timeout_s,
            clock=clock,
        )
    app[SESSION_KEY] = sessions
    app[COOKIE_SECURE_KEY] = settings.cookie_secure
    app[ERROR_PAGE_KEY] = error_page

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        upstream = Upstream(
            gateway.svv_url,
            user=gateway.svv_user,
            password=gateway.svv_password.get_secret_value(),
            pool_size=min(gateway.pool_size, 20),
            connect_timeout_s=gateway.connect_timeout_s,
            read_timeout_s=gateway.read_timeout_s,
        )
        await upstream.start()
        http = aiohttp.ClientSession()
        portal.gateway = PortalGateway(upstream, audit_sink, deadline_s=gateway.deadline_s)
        portal.rp = RelyingParty(settings, http)
        try:
            yield
        finally:
            await upstream.close()
            await http.close()
            await sessions.close()
            if portal.login_limiter is not None:
                await portal.login_limiter.close()

    app.cleanup_ctx.append(lifecycle)
    r = app.router
    r.add_get("/", views.home, name="home")
    r.add_get("/logg-inn", views.login, name="login")
    r.add_get("/callback", views.callback, name="callback")
    r.add_post("/logg-ut", views.logout, name="logout")
    r.add_post("/org", views.choose_org, name="choose_org")
    r.add_get("/oppslag", views.oppslag_form, name="oppslag")
    r.add_post("/oppslag", views.oppslag_submit)
    r.add_get("/eiersok", views.eiersok_form, name="eiersok")
    r.add_post("/eiersok", views.eiersok_submit)
    r.add_get("/innsyn", min_innsyn.page, name="min_innsyn")
    r.add_get("/innsyn/innsyn.{format:(pdf|json)}", min_innsyn.download, name="min_innsyn_download")
    r.add_get("/admin", admin.overview, name="admin")
    r.add_post("/admin/aktiver", admin.activate, name="admin_activate")
    r.add_post("/admin/integrasjoner", admin.create_integration, name="admin_create")
    r.add_post("/admin/integrasjoner/{id}/nytt-passord", admin.new_password, name="admin_password")
    r.add_post("/admin/integrasjoner/{id}/slett", admin.delete_integration, name="admin_delete")
    r.add_post("/admin/integrasjoner/{id}/tilgang", admin.grant, name="admin_grant")
    r.add_post("/admin/integrasjoner/{id}/feltpolicy", admin.field_policy, name="admin_feltpolicy")
    r.add_get("/admin/roller", admin.person_roles, name="admin_roles")
    r.add_post("/admin/roller", admin.person_role_change)
    r.add_get("/admin/logg", admin_audit.audit_log, name="admin_audit")
    r.add_post("/admin/logg", admin_audit.audit_log)
    r.add_post("/admin/logg.csv", admin_audit.audit_csv, name="admin_audit_csv")
    r.add_get("/admin/bruk", admin_audit.usage, name="admin_usage")
    r.add_get("/admin/innsyn", admin_audit.innsyn, name="admin_innsyn")
    r.add_post("/admin/innsyn", admin_audit.innsyn)
    r.add_static("/static", _static_dir(), name="static", append_version=True)
    return app

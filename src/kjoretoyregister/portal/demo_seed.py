"""The portal's part of ``kjoretoyregister demo``: test persons, their roles, the OIDC client.

``demo`` mounts the portal under ``/portal/`` on the gateway's port and serves the ID-porten-like
login under ``/idporten/`` on the Maskinporten stand-in's port. Two synthetic persons are
seeded on the demo organisation: an employee (OPPSLAG + EIERSOK) and an administrator (ADMIN).
"""

from __future__ import annotations

import secrets
from datetime import date

from aiohttp import web
from sqlalchemy import Engine

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.config import GatewaySettings, PortalSettings
from kjoretoyregister.maskinporten.idporten import OidcClient, TestPerson, make_synthetic_fnr
from kjoretoyregister.portal import roles
from kjoretoyregister.portal.app import PORTAL_PREFIX, create_portal_app
from kjoretoyregister.portal.models import ADMIN, EIERSOK, OPPSLAG
from kjoretoyregister.store.db import make_session_factory

DEMO_EMPLOYEE = TestPerson(make_synthetic_fnr(date(1985, 3, 14), 123), "Kari Saksbehandler")
DEMO_ADMIN = TestPerson(make_synthetic_fnr(date(1972, 11, 2), 456), "Ola Administrator")
DEMO_PERSONS = (DEMO_EMPLOYEE, DEMO_ADMIN)
LOOPBACK = "127.0.0.1"


def new_client_secret() -> str:
    """A fresh OIDC client secret for this demo run (shared by stand-in and portal in-process)."""
    return secrets.token_urlsafe(32)


def idporten_client(settings: PortalSettings, client_secret: str) -> OidcClient:
    """The portal as a relying party of the stand-in (any loopback port may call back)."""
    return OidcClient(
        settings.client_id, client_secret, redirect_uri_prefixes=(f"http://{LOOPBACK}:",)
    )


def seed_roles(engine: Engine, pz: Pseudonymizer, fiks_org_id: str) -> None:
    """Give the demo persons their roles on the demo organisation (idempotent)."""
    factory = make_session_factory(engine)
    with factory.begin() as s:
        for person, wanted in ((DEMO_EMPLOYEE, (OPPSLAG, EIERSOK)), (DEMO_ADMIN, (ADMIN,))):
            key = roles.person_key(pz, person.pid)
            have = roles.roles_of(s, key).get(fiks_org_id, set())
            for role in wanted:
                if role not in have:
                    roles.add_role(
                        s,
                        pid_pseudonym=key,
                        navn=person.name,
                        fiks_org_id=fiks_org_id,
                        rolle=role,
                        actor="demo",
                    )


def portal_app(
    settings: PortalSettings,
    *,
    mp_port: int,
    client_secret: str,
    engine: Engine,
    audit_sink: AuditSink,
    pseudonymizer: Pseudonymizer,
    gateway: GatewaySettings,
) -> web.Application:
    """The portal wired to the demo's stand-in (http, so the cookie is not ``Secure``)."""
    demo_settings = PortalSettings.model_validate(
        {
            **settings.model_dump(),
            "issuer_url": f"http://{LOOPBACK}:{mp_port}/idporten/",
            "client_secret": client_secret,
            "cookie_secure": False,
        }
    )
    return create_portal_app(
        demo_settings,
        engine=engine,
        audit_sink=audit_sink,
        pseudonymizer=pseudonymizer,
        gateway=gateway,
    )


def portal_url(gateway_port: int) -> str:
    """Where the demo serves the portal."""
    return f"http://{LOOPBACK}:{gateway_port}{PORTAL_PREFIX}/"


def instructions(url: str) -> str:
    """What ``demo`` prints about the portal."""
    return f"""
Web portal: {url}
  Log in with the local ID-porten (TestID) and pick a test person:
    {DEMO_EMPLOYEE.name:<20} fnr {DEMO_EMPLOYEE.pid}  lookups and owner search
    {DEMO_ADMIN.name:<20} fnr {DEMO_ADMIN.pid}  administrator (integrations, roles, log)
"""

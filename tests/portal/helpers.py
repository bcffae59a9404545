"""The portal's test stack: the real parts on loopback, with the portal mounted on the gateway.

``async with start_portal_stack(workdir, register_path=…) as s:`` starts what ``demo`` starts:
the SVV simulator, the Maskinporten stand-in with its ID-porten-like login for the portal, the
gateway with the portal under ``/portal`` and a *durable* audit sink (the admin's log view reads
the database), and a Konfigurasjon database seeded by :func:`stack.seed_konfig` plus two
persons: an employee (OPPSLAG + EIERSOK) and an administrator (ADMIN) of the org.

:class:`ThreadedPortalStack` runs the same in a background thread with its own event loop, for
the synchronous Playwright API.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.config import GatewaySettings, PortalSettings, SvvSettings
from kjoretoyregister.gateway.app import create_app as create_gateway
from kjoretoyregister.konfig.authz import Authorizer
from kjoretoyregister.maskinporten.app import create_app as create_maskinporten
from kjoretoyregister.maskinporten.idporten import OidcClient, TestPerson, make_synthetic_fnr
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import ClientKey, make_client, make_grant
from kjoretoyregister.portal import roles
from kjoretoyregister.portal.app import PORTAL_PREFIX, create_portal_app
from kjoretoyregister.portal.models import ADMIN, EIERSOK, OPPSLAG
from kjoretoyregister.store.db import make_engine, make_session_factory
from stack import CLIENT_ID, SUPPLIER_ORGNR, SVV_BASE_PATH, seed_konfig, serve

PORTAL_CLIENT_ID = "kjoretoyregister-portal"
EMPLOYEE = TestPerson(make_synthetic_fnr(date(1985, 3, 14), 123), "Kari Saksbehandler")
ADMINISTRATOR = TestPerson(make_synthetic_fnr(date(1972, 11, 2), 456), "Ola Administrator")
OUTSIDER = TestPerson(make_synthetic_fnr(date(1990, 6, 30), 210), "Per Uten Rolle")
AUDIT_SECRET = b"portal-tests-audit-secret-0123456789"


@dataclass
class PortalStack:
    """Where everything listens, and the seeded ids and credentials."""

    root: str  # gateway http://127.0.0.1:port
    portal_url: str  # root + /portal/
    gateway_url: str  # root + /kjoretoyregister/api
    mp_root: str
    mp_state: MaskinportenState
    client: ClientKey
    database_url: str
    engine: Engine
    session_factory: sessionmaker[Session]
    pseudonymizer: Pseudonymizer
    fiks_org_id: str
    other_fiks_org_id: str
    integrasjon_id: str
    integrasjon_passord: str
    settings: PortalSettings
    extra: dict[str, Any] = field(default_factory=dict)

    async def token(self, http: aiohttp.ClientSession, client: ClientKey | None = None) -> str:
        """A real Maskinporten access token (JWT grant) for ``client`` (default: the seeded)."""
        client = client or self.client
        assertion = make_grant(
            issuer=self.mp_root + "/",
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
        )
        async with http.post(
            self.mp_root + "/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["access_token"])


def seed_persons(factory: sessionmaker[Session], pz: Pseudonymizer, fiks_org_id: str) -> None:
    """The employee gets OPPSLAG and EIERSOK, the administrator ADMIN."""
    with factory.begin() as s:
        for person, wanted in ((EMPLOYEE, (OPPSLAG, EIERSOK)), (ADMINISTRATOR, (ADMIN,))):
            for role in wanted:
                roles.add_role(
                    s,
                    pid_pseudonym=roles.person_key(pz, person.pid),
                    navn=person.name,
                    fiks_org_id=fiks_org_id,
                    rolle=role,
                    actor="test",
                )


@dataclass(frozen=True)
class Template:
    """A seeded database and Maskinporten state to copy (seeding costs ~2 s per stack)."""

    db_path: Path
    mp_dir: Path
    ids: dict[str, str]
    client: ClientKey


def make_template(directory: Path) -> Template:
    """Migrate and seed a database (orgs, integration, persons) and a Maskinporten state."""
    directory.mkdir(parents=True, exist_ok=True)
    db_path = directory / "kjr.db"
    ids = seed_database(f"sqlite:///{db_path}")
    mp_state = MaskinportenState.open(directory / "mp")
    client = make_client(mp_state, CLIENT_ID, SUPPLIER_ORGNR, ["ks:fiks"])
    return Template(db_path, directory / "mp", ids, client)


def _copy_template(template: Template, workdir: Path, *, database: bool = True) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    if database:
        # SQLite's backup API, not a file copy: the template is in WAL mode and its last
        # commits may still sit in the -wal file while another connection keeps it open.
        src, dst = sqlite3.connect(template.db_path), sqlite3.connect(workdir / "kjr.db")
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    shutil.copytree(template.mp_dir, workdir / "mp")


def seed_database(database_url: str) -> dict[str, str]:
    """Migrate and seed another database (e.g. a PostgreSQL schema) like the template."""
    ids = seed_konfig(database_url)
    engine = make_engine(database_url)
    try:
        seed_persons(make_session_factory(engine), Pseudonymizer(AUDIT_SECRET), ids["fiks_org_id"])
    finally:
        engine.dispose()
    return ids


@asynccontextmanager
async def start_portal_stack(
    workdir: Path,
    *,
    register_path: Path,
    portal: dict[str, Any] | None = None,
    portal_sink: AuditSink | None = None,
    template: Template | None = None,
    clock: Callable[[], float] | None = None,
    instances: int = 1,
    database_url: str | None = None,
) -> AsyncIterator[PortalStack]:
    """Start simulator, Maskinporten (+ ID-porten), gateway + portal; stop all on exit.

    Args:
        portal: overrides of :class:`PortalSettings` fields (timeouts, cookie flags).
        portal_sink: give the portal this audit sink instead of the durable one (faults).
        template: copy this seeded state instead of seeding anew (faster).
        clock: the portal's session clock (tests of timeouts advance it by hand).
        instances: serve this many gateway+portal instances on the same database and audit
            sink (each with its own session store object); their roots are in
            ``extra["roots"]``.
        database_url: use this (empty, e.g. a fresh PostgreSQL schema) database, migrated and
            seeded here, instead of a copy of the template's SQLite file.
    """
    from kjoretoyregister.svv.register import Register
    from kjoretoyregister.svv.server import create_app as create_simulator

    if template is None:
        template = await asyncio.to_thread(make_template, workdir / "template")
    await asyncio.to_thread(_copy_template, template, workdir, database=database_url is None)
    if database_url is None:
        database_url = f"sqlite:///{workdir / 'kjr.db'}"
        ids = dict(template.ids)
    else:
        ids = await asyncio.to_thread(seed_database, database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    pz = Pseudonymizer(AUDIT_SECRET)
    mp_state = MaskinportenState.open(workdir / "mp")
    client = template.client
    svv_user, svv_password = "fiks", secrets.token_urlsafe(16)
    client_secret = secrets.token_urlsafe(24)

    async with AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        register = Register(register_path)
        stack.callback(register.close)
        svv_root = await serve(
            create_simulator(register, SvvSettings(users=[f"{svv_user}:{svv_password}"])),  # type: ignore[list-item]
            stack,
        )
        mp_root = await serve(
            create_maskinporten(
                mp_state,
                idporten_clients=[
                    OidcClient(
                        PORTAL_CLIENT_ID,
                        client_secret,
                        redirect_uri_prefixes=("http://127.0.0.1:",),
                    )
                ],
                idporten_persons=[EMPLOYEE, ADMINISTRATOR, OUTSIDER],
            ),
            stack,
        )
        sink = DurableAuditSink(make_engine(database_url), pz, own_engine=True)
        await sink.start()
        stack.push_async_callback(sink.close)
        gw_settings = GatewaySettings.model_validate(
            {
                "svv_url": svv_root + SVV_BASE_PATH,
                "svv_user": svv_user,
                "svv_password": svv_password,
                "maskinporten_issuer": mp_root + "/",
                "jwks_min_refetch_s": 0,
            }
        )
        portal_settings = PortalSettings.model_validate(
            {
                "issuer_url": mp_root + "/idporten/",
                "client_id": PORTAL_CLIENT_ID,
                "client_secret": client_secret,
                "cookie_secure": False,
                **(portal or {}),
            }
        )
        roots = []
        for _ in range(instances):
            portal_app = create_portal_app(
                portal_settings,
                engine=engine,
                audit_sink=portal_sink or sink,
                pseudonymizer=pz,
                gateway=gw_settings,
                **({"clock": clock} if clock is not None else {}),
            )
            gateway_app = create_gateway(
                gw_settings,
                authorizer=Authorizer(factory),
                audit_sink=sink,
                mounts={PORTAL_PREFIX: portal_app},
            )
            roots.append(await serve(gateway_app, stack))
        root = roots[0]
        yield PortalStack(
            root=root,
            portal_url=root + PORTAL_PREFIX + "/",
            gateway_url=root + "/kjoretoyregister/api",
            mp_root=mp_root,
            mp_state=mp_state,
            client=client,
            database_url=database_url,
            engine=engine,
            session_factory=factory,
            pseudonymizer=pz,
            settings=portal_settings,
            extra={"roots": roots},
            **ids,
        )


class ManualClock:
    """A clock that moves only when told (session timeout tests without sleeping)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ThreadedPortalStack:
    """:func:`start_portal_stack` in a background thread (for synchronous Playwright)."""

    def __init__(self, workdir: Path, register_path: Path, **kwargs: Any) -> None:
        self._args = (workdir, register_path, kwargs)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.stack: PortalStack | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        workdir, register_path, kwargs = self._args
        self._stop = asyncio.Event()
        try:
            async with start_portal_stack(workdir, register_path=register_path, **kwargs) as s:
                self.stack = s
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> PortalStack:
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise self._error
        assert self.stack is not None
        return self.stack

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

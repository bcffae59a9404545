"""The whole stack on loopback ports, in this event loop: for end-to-end tests and benchmarks.

``async with start_stack(tmp_path) as stack:`` starts, each on a free 127.0.0.1 port:

- the SVV simulator on a small generated register (one user with all roles, random password);
- the Maskinporten stand-in (state in ``tmp_path/mp``) with a client for the supplier orgnr;
- the Konfigurasjon database (SQLite in ``tmp_path``, migrated) seeded with an organisation,
  the service activated, an integration authorised for the supplier, and grants of OPPSLAG
  and EIERSOK (and a second organisation the integration has *no* grant on);
- the gateway, using all of the above and a :class:`MemoryAuditSink`.

Nothing is mocked. The :class:`Stack` it yields has the URLs, ids, password and client key,
plus helpers to get a real token and to flip the simulator's fault switches.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.audit.events import AuditSink
from kjoretoyregister.audit.sinks import MemoryAuditSink
from kjoretoyregister.config import GatewaySettings, SvvSettings
from kjoretoyregister.gateway.app import create_app as create_gateway
from kjoretoyregister.httpserver import EdgeLimits, EdgeRunner, start_site
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.authz import Authorizer
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG
from kjoretoyregister.maskinporten.app import create_app as create_maskinporten
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import ClientKey, make_client, make_grant
from kjoretoyregister.store.db import make_engine, make_session_factory, upgrade

if TYPE_CHECKING:
    from kjoretoyregister.svv.register import Register

LOOPBACK = "127.0.0.1"
SVV_BASE_PATH = "/ws/no/vegvesen/kjoretoy/felles/v2"
ORG_ORGNR = "944117784"  # synthetic-valid mod-11 orgnr for the test municipality
OTHER_ORGNR = "964338531"
SUPPLIER_ORGNR = "910000004"  # the fagsystem supplier (autorisert organisasjon)
CLIENT_ID = "fagsystem-test"
JSON_BODY = "application/json"


async def fetch_token(
    http: aiohttp.ClientSession, token_url: str, issuer: str, client: ClientKey, scope: str
) -> str:
    """A real access token from a Maskinporten stand-in's token endpoint (JWT-bearer grant)."""
    grant = make_grant(
        issuer=issuer,
        client_id=client.client_id,
        private_key=client.private_key,
        kid=client.kid,
        scope=scope,
    )
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": grant}
    async with http.post(token_url, data=form) as resp:
        body = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"token endpoint said {resp.status}: {body}")
        return str(body["access_token"])


@dataclass
class Stack:
    """Where everything listens and the credentials to call it."""

    gateway_root: str  # http://127.0.0.1:port
    gateway_url: str  # … up to and including /kjoretoyregister/api
    svv_root: str
    svv_url: str  # … up to and including /felles/v2
    svv_user: str
    svv_password: str
    mp_issuer: str
    mp_token_url: str
    mp_state: MaskinportenState
    database_url: str
    session_factory: sessionmaker[Session]
    fiks_org_id: str
    other_fiks_org_id: str  # activated, but the integration has no grant on it
    integrasjon_id: str
    integrasjon_passord: str
    client: ClientKey
    register: Register | None  # None when a custom upstream replaces the simulator
    audit: AuditSink
    http: aiohttp.ClientSession
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def memory_audit(self) -> MemoryAuditSink:
        """The audit sink as the in-memory sink (what :func:`start_stack` installs by default)."""
        if not isinstance(self.audit, MemoryAuditSink):
            raise TypeError("this stack runs with another audit sink")
        return self.audit

    def api(self, tail: str, *, org: str | None = None) -> str:
        """Gateway URL for ``tail`` (e.g. ``"bulk/kjennemerke"``) below the v2.0 API path."""
        return (
            f"{self.gateway_url}/{org or self.fiks_org_id}/rest/distribusjon/kjoretoy/v2.0/{tail}"
        )

    async def token(self, scope: str = "ks:fiks", client: ClientKey | None = None) -> str:
        """A real access token from the stand-in's token endpoint (JWT-bearer grant)."""
        return await fetch_token(
            self.http, self.mp_token_url, self.mp_issuer, client or self.client, scope
        )

    def headers(self, token: str, **extra: str) -> dict[str, str]:
        """The three Fiks headers (plus any extra)."""
        return {
            "Authorization": f"Bearer {token}",
            "IntegrasjonId": self.integrasjon_id,
            "IntegrasjonPassord": self.integrasjon_passord,
            **extra,
        }

    def svv_auth(self) -> dict[str, str]:
        raw = f"{self.svv_user}:{self.svv_password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    async def sim_faults(self, **changes: Any) -> dict[str, Any]:
        """Flip the simulator's switches (latency_ms, fault_rate, outage, quota_exceeded)."""
        async with self.http.post(
            f"{self.svv_root}/_sim/faults",
            data=orjson.dumps(changes),
            headers={**self.svv_auth(), "Content-Type": JSON_BODY},
        ) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"switches refused: {body}")
            return body


async def serve(
    app: web.Application, stack: AsyncExitStack, port: int = 0, edge: EdgeLimits | None = None
) -> str:
    """Serve ``app`` on a loopback port until ``stack`` closes; return ``http://host:port``."""
    runner = EdgeRunner(app, edge)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    return f"http://{LOOPBACK}:{await start_site(runner, LOOPBACK, port)}"


def ensure_register(path: Path, vehicles: int = 300, seed: int = 7) -> Path:
    """Generate a small register at ``path`` once (reused when the file exists)."""

    from kjoretoyregister.svv.generate import generate

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, vehicles=vehicles, seed=seed)
    return path


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def seed_konfig(database_url: str) -> dict[str, str]:
    """Migrate; seed two activated orgs and an integration granted both privileges on the first."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        return _seed(make_session_factory(engine))
    finally:
        engine.dispose()  # PostgreSQL: no pooled connection left open after seeding


def _seed(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory.begin() as s:
        org = service.create_org(s, "Testkommune", ORG_ORGNR)
        other = service.create_org(s, "Annen kommune", OTHER_ORGNR)
        service.activate(s, org.id)
        service.activate(s, other.id)
        integ, password = service.create_integration(
            s, org.id, "Fagsystem", SUPPLIER_ORGNR, "Saksbehandlingssystem (test)"
        )
        service.grant(s, integ.id, org.id, OPPSLAG)
        service.grant(s, integ.id, org.id, EIERSOK)
        return {
            "fiks_org_id": str(org.id),
            "other_fiks_org_id": str(other.id),
            "integrasjon_id": str(integ.id),
            "integrasjon_passord": password,
        }


@asynccontextmanager
async def start_stack(
    workdir: Path,
    *,
    register_path: Path | None = None,
    gateway: dict[str, Any] | None = None,
    audit_sink: AuditSink | None = None,
    svv: dict[str, Any] | None = None,
    upstream: web.Application | None = None,
    decision_cache_s: float = 0.0,
    edge: EdgeLimits | None = None,
) -> AsyncIterator[Stack]:
    """Start simulator, Maskinporten, Konfigurasjon and gateway; stop them all on exit.

    Args:
        workdir: a fresh directory for state (register, MP state, database).
        register_path: an existing register to reuse (generation is the slow part).
        gateway: overrides of :class:`GatewaySettings` fields (timeouts, limits).
        audit_sink: default a new :class:`MemoryAuditSink`.
        svv: overrides of :class:`SvvSettings` fields.
        upstream: serve this app instead of the simulator (at ``SVV_BASE_PATH``); no register.
        decision_cache_s: the gateway's opt-in authorization decision cache (0 = off).
        edge: the gateway's deadlines and per-client limit (default :class:`EdgeLimits`).
    """
    _mkdir(workdir)
    reg_path = None
    if upstream is None:
        reg_path = register_path or ensure_register(workdir / "register.sqlite")
    svv_user, svv_password = "fiks", secrets.token_urlsafe(16)
    database_url = f"sqlite:///{workdir / 'konfig.db'}"
    ids = seed_konfig(database_url)
    mp_state = MaskinportenState.open(workdir / "mp")
    client = make_client(mp_state, CLIENT_ID, SUPPLIER_ORGNR, ["ks:fiks"])
    sink = audit_sink if audit_sink is not None else MemoryAuditSink()

    async with AsyncExitStack() as stack:
        register: Register | None = None
        if upstream is None:
            from kjoretoyregister.svv.register import Register
            from kjoretoyregister.svv.server import create_app as create_simulator

            assert reg_path is not None
            register = Register(reg_path)
            stack.callback(register.close)
            svv_settings = SvvSettings(
                users=[f"{svv_user}:{svv_password}"],  # type: ignore[list-item]
                **(svv or {}),
            )
            upstream = create_simulator(register, svv_settings)
        svv_root = await serve(upstream, stack)
        mp_root = await serve(create_maskinporten(mp_state), stack)
        issuer = mp_root + "/"
        engine = make_engine(database_url)
        stack.callback(engine.dispose)
        factory = make_session_factory(engine)
        gw_fields: dict[str, Any] = {
            "svv_url": svv_root + SVV_BASE_PATH,
            "svv_user": svv_user,
            "svv_password": svv_password,
            "maskinporten_issuer": issuer,
            "jwks_min_refetch_s": 0,
            **(gateway or {}),
        }
        gw_settings = GatewaySettings.model_validate(gw_fields)
        gw_app = create_gateway(
            gw_settings,
            authorizer=Authorizer(factory),
            audit_sink=sink,
            decision_cache_s=decision_cache_s,
        )
        gw_root = await serve(gw_app, stack, edge=edge)
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        yield Stack(
            gateway_root=gw_root,
            gateway_url=gw_root + "/kjoretoyregister/api",
            svv_root=svv_root,
            svv_url=svv_root + SVV_BASE_PATH,
            svv_user=svv_user,
            svv_password=svv_password,
            mp_issuer=issuer,
            mp_token_url=mp_root + "/token",
            mp_state=mp_state,
            database_url=database_url,
            session_factory=factory,
            client=client,
            register=register,
            audit=sink,
            http=http,
            extra={"gateway_app": gw_app},
            **ids,
        )


class CaptureUpstream:
    """A tiny upstream standing where SVV stands: records what arrived, answers as told.

    Not a mock of our system: it lets a test see the exact request the gateway sent (headers,
    raw path, body), which the simulator does not expose, and serves as the fixed-response
    upstream of the benchmark.
    """

    def __init__(self, body: bytes = b"[]", status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = status
        self.body = body
        self.headers: dict[str, str] = {"Content-Type": JSON_BODY}
        self.record = True

    async def handle(self, request: web.Request) -> web.Response:
        if self.record:
            self.requests.append(
                {
                    "method": request.method,
                    "raw_path": request.raw_path,
                    "headers": dict(request.headers),
                    "body": await request.read(),
                }
            )
        else:
            await request.read()
        return web.Response(status=self.status, body=self.body, headers=self.headers)

    def app(self) -> web.Application:
        """The aiohttp app answering every path and method."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

"""``kjoretoyregister demo``: the whole stack in one process, seeded, ready for a first lookup.

In one event loop it starts the SVV simulator (on a generated demo register), the Maskinporten
stand-in, the gateway (with the Konfigurasjon admin API under ``/admin/api``) and a durable audit
log, all on 127.0.0.1. Konfigurasjon is seeded with «Demo kommune», its activated service, an
integration for a demo supplier with OPPSLAG and EIERSOK, and a Maskinporten client for the
supplier whose private key is written to the data dir (0600).

Everything lives in ``data_dir`` and is reused on the next run: the register, the Maskinporten
state and client key, and the database. Seeding is idempotent; the integration gets a fresh
password on every start (passwords are stored only as hashes, so the old one cannot be shown).

The profile (JSON, 0600 — it holds the integration password) is what scripts and
``kjoretoyregister oppslag --profile`` read; see ``docs/gateway.md`` for its keys.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from kjoretoyregister.cliutil import settings_or_exit
from kjoretoyregister.config import GatewaySettings, Settings, SvvSettings
from kjoretoyregister.httpserver import BindError, EdgeRunner
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.authz import Authorizer
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import make_engine, make_session_factory, upgrade

log = get_logger(__name__)

DEMO_ORG_NAME = "Demo kommune"
DEMO_ORG_ORGNR = "944117784"  # valid mod-11, synthetic use only
DEMO_SUPPLIER_ORGNR = "910000004"
DEMO_INTEGRATION_NAME = "Demo fagsystem"
DEMO_CLIENT_ID = "demo-fagsystem"
DEMO_PLATE = "CU11297"
REGISTER_FILE = "demo-register.sqlite"
KEY_FILE = "demo-client-key.pem"
KID_FILE = "demo-client-kid.txt"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Seeded:
    """Ids and the (fresh) password of the demo integration."""

    fiks_org_id: str
    integrasjon_id: str
    integrasjon_passord: str


def seed(database_url: str) -> Seeded:
    """Migrate and seed the demo org, activation, integration and grants (idempotent)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as s:
            org = next((o for o in service.list_orgs(s) if o.navn == DEMO_ORG_NAME), None)
            if org is None:
                org = service.create_org(s, DEMO_ORG_NAME, DEMO_ORG_ORGNR, actor="demo")
            activation = service.get_activation(s, org.id)
            if activation is None or not activation.aktiv:
                service.activate(s, org.id, actor="demo")
            integ = next(
                (
                    i
                    for i in service.list_integrations(s, org.id)
                    if i.navn == DEMO_INTEGRATION_NAME
                ),
                None,
            )
            if integ is None:
                integ, password = service.create_integration(
                    s,
                    org.id,
                    DEMO_INTEGRATION_NAME,
                    DEMO_SUPPLIER_ORGNR,
                    "Leverandørens saksbehandlingssystem (demo)",
                    actor="demo",
                )
            else:
                integ, password = service.new_password(s, integ.id, actor="demo")
            have = {
                g.privilegium
                for g in service.list_grants(s, integrasjon_id=integ.id)
                if g.fiks_org_id == org.id
            }
            for privilege in (OPPSLAG, EIERSOK):
                if privilege not in have:
                    service.grant(s, integ.id, org.id, privilege, actor="demo")
            return Seeded(str(org.id), str(integ.id), password)
    finally:
        engine.dispose()


def ensure_client(mp_state_dir: Path, data_dir: Path) -> tuple[str, Path]:
    """The demo Maskinporten client and its key file (0600); reused when both exist."""
    from kjoretoyregister.maskinporten.state import MaskinportenState
    from kjoretoyregister.maskinporten.testing import make_client

    state = MaskinportenState.open(mp_state_dir)
    key_path, kid_path = data_dir / KEY_FILE, data_dir / KID_FILE
    client = state.client(DEMO_CLIENT_ID)
    if key_path.exists() and kid_path.exists() and client is not None:
        kid = kid_path.read_text().strip()
        if client.key(kid) is not None:
            return kid, key_path
    # ks:fiks for the gateway; SVV's akfell scope for the simulator's akfell profile
    # (KJR_SVV__API=both), which the demo client may then call directly.
    made = make_client(
        state, DEMO_CLIENT_ID, DEMO_SUPPLIER_ORGNR, ["ks:fiks", "svv:kjoretoy/kjoretoyopplysninger"]
    )
    pem = made.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(key_path, pem)
    kid_path.write_text(made.kid + "\n")
    return made.kid, key_path


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def ensure_register(path: Path, vehicles: int) -> None:
    """Generate the demo register once, and again if an older version made it (another
    register schema: ``Register`` refuses to read it)."""
    from kjoretoyregister.svv.register import Register, RegisterError

    if path.exists():
        try:
            Register(path).close()
            return
        except RegisterError:
            pass
    from kjoretoyregister.svv.generate import generate

    generate(path, vehicles=vehicles, seed=2026)


def bind_ports(port_base: int) -> list[socket.socket]:
    """Listen on the gateway's, simulator's and Maskinporten's ports before anything else.

    Binding first means a demo that cannot start (another demo holds the ports) fails before it
    has seeded anything: seeding gives the demo integration a new password, which would lock a
    running demo out of its own profile.

    Raises:
        BindError: one of the ports is taken (the others are released again).
    """
    socks: list[socket.socket] = []
    try:
        for offset in range(3):
            # gateway P, simulator P+1, Maskinporten P+2 (8080/8081/8082); 0 = free ports
            port = port_base + offset if port_base else 0
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, port))
            except OSError as exc:
                raise BindError(LOOPBACK, port, exc.strerror or str(exc)) from None
            sock.listen(512)
            sock.setblocking(False)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


async def _serve(app: web.Application, sock: socket.socket, stack: AsyncExitStack) -> int:
    runner = EdgeRunner(app)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.SockSite(runner, sock)
    await site.start()
    return int(sock.getsockname()[1])


def profile_dict(
    *,
    gateway_port: int,
    mp_port: int,
    svv_port: int,
    seeded: Seeded,
    kid: str,
    key_path: Path,
    database_url: str,
) -> dict[str, Any]:
    """The profile file's content (documented in docs/gateway.md)."""
    mp = f"http://{LOOPBACK}:{mp_port}/"
    return {
        "gateway_url": f"http://{LOOPBACK}:{gateway_port}/kjoretoyregister/api",
        "fiks_org_id": seeded.fiks_org_id,
        "integrasjon_id": seeded.integrasjon_id,
        "integrasjon_passord": seeded.integrasjon_passord,
        "maskinporten": {
            "issuer": mp,
            "token_url": mp + "token",
            "client_id": DEMO_CLIENT_ID,
            "kid": kid,
            "private_key_path": str(key_path.resolve()),
            "scope": "ks:fiks",
        },
        "svv_url": f"http://{LOOPBACK}:{svv_port}/ws/no/vegvesen/kjoretoy/felles/v2",
        "database_url": database_url,
        "admin_url": f"http://{LOOPBACK}:{gateway_port}/admin/api",
    }


def instructions(profile_path: Path, profile: dict[str, Any]) -> str:
    """What ``demo`` prints: a token, a curl lookup of CU11297, and the CLI line."""
    url = (
        f"{profile['gateway_url']}/{profile['fiks_org_id']}"
        "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
    )
    p = str(profile_path)
    kjr = cli_command()
    admin = ""
    if profile.get("admin_token"):
        admin = f"""
Konfigurasjon admin API (this token works while this demo runs):

  curl -s -H 'Authorization: Bearer {profile["admin_token"]}' {profile["admin_url"]}/orgs
"""
    return f"""
Fiks Kjøretøyregister demo is running (Ctrl-C to stop).

  gateway        {profile["gateway_url"]}
  maskinporten   {profile["maskinporten"]["issuer"]}
  svv simulator  {profile["svv_url"]}
  profile        {p}

First lookup with curl (gets a Maskinporten token, then calls the gateway):

  TOKEN=$({kjr} demo token --profile {p})
  curl -s -X POST '{url}' \\
    -H "Authorization: Bearer $TOKEN" \\
    -H 'IntegrasjonId: {profile["integrasjon_id"]}' \\
    -H 'IntegrasjonPassord: {profile["integrasjon_passord"]}' \\
    -H 'Content-Type: application/json' \\
    -d '[{{"kjennemerke":"{DEMO_PLATE}"}}]'

Or with the client:

  {kjr} oppslag kjennemerke {DEMO_PLATE} --profile {p}
{admin}"""


def cli_command() -> str:
    """How to call this CLI in printed instructions: ``kjoretoyregister`` if that is on PATH
    and is us, else the full path (a venv that was not activated, as in the README)."""
    me = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("kjoretoyregister")
    if me is not None and me.name == "kjoretoyregister":
        if found is not None and Path(found).resolve() == me:
            return "kjoretoyregister"
        return str(me)
    return "kjoretoyregister" if found else f"{sys.executable} -m kjoretoyregister"


async def run(
    settings: Settings,
    *,
    profile_path: Path | None,
    vehicles: int,
    port_base: int,
    stop: asyncio.Event | None = None,
) -> None:
    """Start everything, write the profile(s), print how to call it, wait for ``stop``/a signal.

    Raises:
        BindError: a port is taken; nothing has been written (see :func:`bind_ports`).
    """
    socks = bind_ports(port_base)
    try:
        await _run_bound(settings, socks, profile_path=profile_path, vehicles=vehicles, stop=stop)
    finally:
        for sock in socks:
            sock.close()


async def _run_bound(
    settings: Settings,
    socks: list[socket.socket],
    *,
    profile_path: Path | None,
    vehicles: int,
    stop: asyncio.Event | None,
) -> None:
    from kjoretoyregister.audit.admin_api import AUDIT_ADMIN_PREFIX, admin_audit_app_from_settings
    from kjoretoyregister.audit.pseudonyms import pseudonymizer_from_settings
    from kjoretoyregister.audit.writer import DurableAuditSink
    from kjoretoyregister.gateway.app import create_app as create_gateway
    from kjoretoyregister.konfig.admin_api import ADMIN_API_PREFIX, create_admin_app
    from kjoretoyregister.konfig.invalidation import KonfigGeneration
    from kjoretoyregister.maskinporten.app import create_app as create_maskinporten
    from kjoretoyregister.maskinporten.state import MaskinportenState
    from kjoretoyregister.portal import demo_seed as portal_demo
    from kjoretoyregister.portal.app import PORTAL_PREFIX
    from kjoretoyregister.svv.register import Register
    from kjoretoyregister.svv.server import create_app as create_simulator

    gateway_sock, svv_sock, mp_sock = socks
    data_dir = settings.data_dir.resolve()
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    register_path = data_dir / REGISTER_FILE
    await asyncio.to_thread(ensure_register, register_path, vehicles)
    database_url = settings.effective_database_url
    seeded = await asyncio.to_thread(seed, database_url)
    mp_dir = settings.maskinporten.state_dir or data_dir / "mp"
    kid, key_path = await asyncio.to_thread(ensure_client, mp_dir, data_dir)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with AsyncExitStack() as stack:
        register = Register(register_path)
        stack.callback(register.close)
        svv_user, svv_password = "fiks-gateway", secrets.token_urlsafe(24)
        svv_settings = settings.svv.model_copy(update={"users": []})
        svv_settings = SvvSettings.model_validate(
            {
                **svv_settings.model_dump(),
                "users": [f"{svv_user}:{svv_password}"],
                # The akfell profile (if KJR_SVV__API turns it on) trusts this demo's stand-in.
                "akfell_issuer": f"http://{LOOPBACK}:{mp_sock.getsockname()[1]}/",
            }
        )
        svv_port = await _serve(create_simulator(register, svv_settings), svv_sock, stack)

        mp_state = MaskinportenState.open(mp_dir)
        portal_secret = portal_demo.new_client_secret()
        mp_port = await _serve(
            create_maskinporten(
                mp_state,
                token_lifetime_s=settings.maskinporten.token_lifetime_s,
                idporten_clients=[portal_demo.idporten_client(settings.portal, portal_secret)],
                idporten_persons=portal_demo.DEMO_PERSONS,
            ),
            mp_sock,
            stack,
        )

        engine = make_engine(database_url)
        stack.callback(engine.dispose)
        factory = make_session_factory(engine)
        # A fresh admin token per start (printed, and in the 0600 profile), beside any the
        # operator configured: without one the demo's admin API refuses everything.
        admin_token = secrets.token_urlsafe(24)
        konfig_settings = settings.konfig.model_copy(
            update={
                "admin_tokens": [
                    SecretStr(f"demo:{admin_token}"),
                    *settings.konfig.admin_tokens,
                ]
            }
        )
        admin_settings = settings.model_copy(update={"konfig": konfig_settings})
        sink = DurableAuditSink.from_settings(settings, migrate=True)
        await sink.start()
        stack.push_async_callback(sink.close)
        pz = pseudonymizer_from_settings(settings)
        await asyncio.to_thread(portal_demo.seed_roles, engine, pz, seeded.fiks_org_id)
        gw_settings = GatewaySettings.model_validate(
            {
                **settings.gateway.model_dump(),
                "svv_url": f"http://{LOOPBACK}:{svv_port}/ws/no/vegvesen/kjoretoy/felles/v2",
                "svv_user": svv_user,
                "svv_password": svv_password,
                "maskinporten_issuer": f"http://{LOOPBACK}:{mp_port}/",
            }
        )
        gateway_app = create_gateway(
            gw_settings,
            authorizer=Authorizer.from_settings(factory, settings.konfig),
            audit_sink=sink,
            decision_cache_s=gw_settings.authz_cache_s,
            konfig_generation=KonfigGeneration(
                engine, poll_s=gw_settings.authz_invalidation_poll_s
            ),
            mounts={
                ADMIN_API_PREFIX: create_admin_app(factory, konfig_settings),
                AUDIT_ADMIN_PREFIX: admin_audit_app_from_settings(admin_settings),
                PORTAL_PREFIX: portal_demo.portal_app(
                    settings.portal,
                    mp_port=mp_port,
                    client_secret=portal_secret,
                    engine=engine,
                    audit_sink=sink,
                    pseudonymizer=pz,
                    gateway=gw_settings,
                ),
            },
        )
        gateway_port = await _serve(gateway_app, gateway_sock, stack)

        profile = profile_dict(
            gateway_port=gateway_port,
            mp_port=mp_port,
            svv_port=svv_port,
            seeded=seeded,
            kid=kid,
            key_path=key_path,
            database_url=database_url,
        )
        profile["portal_url"] = portal_demo.portal_url(gateway_port)
        profile["admin_token"] = admin_token
        text = orjson.dumps(profile, option=orjson.OPT_INDENT_2) + b"\n"
        targets = _profile_targets(data_dir, profile_path)
        for target in targets:
            await asyncio.to_thread(_write_profile, target, text)
        sys.stdout.write(instructions(targets[-1], profile))
        sys.stdout.write(portal_demo.instructions(profile["portal_url"]))
        sys.stdout.flush()
        log.info("demo_ready", gateway_port=gateway_port, mp_port=mp_port, svv_port=svv_port)
        await stop.wait()
        log.info("demo_stopping")


def _profile_targets(data_dir: Path, profile_path: Path | None) -> list[Path]:
    """``<data_dir>/profile.json`` always, plus ``--profile PATH`` if given (last = shown)."""
    default = data_dir / "profile.json"
    targets = [default]
    if profile_path is not None and profile_path.resolve() != default:
        targets.append(profile_path.resolve())
    return targets


def _write_profile(path: Path, text: bytes) -> None:
    """Write atomically (a waiting script never reads half a file), owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _write_private(tmp, text)
    tmp.replace(path)


app = typer.Typer(
    help="Run the whole stack locally, seeded for a first lookup.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def demo(
    ctx: typer.Context,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="Also write the connection profile here.")
    ] = None,
    vehicles: Annotated[
        int,
        typer.Option(min=10, max=1_000_000, help="Vehicles in the demo register (first run)."),
    ] = 2000,
    port_base: Annotated[
        int,
        typer.Option(
            min=0,
            max=65533,
            help="Gateway on P, simulator on P+1, Maskinporten on P+2; 0 picks free ports.",
        ),
    ] = 8080,
) -> None:
    """Start simulator, Maskinporten, Konfigurasjon and gateway; stay up until Ctrl-C/SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_or_exit()
    try:
        asyncio.run(run(settings, profile_path=profile, vehicles=vehicles, port_base=port_base))
    except OSError as exc:
        # Mostly "address already in use": say what to do instead of a traceback.
        typer.echo(f"error: {exc.strerror or exc} (try another --port-base, or 0)", err=True)
        raise typer.Exit(1) from None


@app.command("token")
def token(
    profile: Annotated[Path, typer.Option("--profile", help="A profile written by `demo`.")],
) -> None:
    """Print a Maskinporten access token for the profile's client (e.g. for curl)."""
    from kjoretoyregister.client._client import provider_from_profile
    from kjoretoyregister.client.errors import KjoretoyregisterError
    from kjoretoyregister.client.profile import load_profile

    try:
        typer.echo(provider_from_profile(load_profile(profile)).token())
    except (KjoretoyregisterError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

"""N real gateway processes (``kjoretoyregister gateway serve``) on one shared database + Redis.

For the scale-out test and ``bench/soak.py``. The SVV simulator and the Maskinporten stand-in
run in this event loop on loopback ports (as in :mod:`stack`); the Konfigurasjon + audit
database is the one ``database_url`` names (PostgreSQL with a fresh schema in the tests), and
each gateway instance is a separate OS process on its own port, started exactly as in
production (``gateway serve``, settings from ``KJR_*`` variables).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

from kjoretoyregister.audit.sinks import NullAuditSink
from kjoretoyregister.config import SvvSettings
from kjoretoyregister.maskinporten.app import create_app as create_maskinporten
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import make_client
from kjoretoyregister.store.db import make_engine, make_session_factory
from stack import CLIENT_ID, LOOPBACK, SUPPLIER_ORGNR, SVV_BASE_PATH, Stack, seed_konfig, serve

CLI = str(Path(sys.executable).with_name("kjoretoyregister"))


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    """One gateway process."""

    port: int
    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def root(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def api(self, stack: Stack, tail: str) -> str:
        """``stack.api(tail)`` on this instance."""
        return stack.api(tail).replace(stack.gateway_root, self.root, 1)

    def kill(self) -> None:
        """``kill -9`` (no shutdown, no flush): what a crash looks like."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


async def wait_ready(http: aiohttp.ClientSession, root: str, timeout_s: float = 60) -> None:
    """Poll ``/health/ready`` until 200."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            async with http.get(root + "/health/ready") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if loop.time() > deadline:
            raise TimeoutError(f"{root} not ready after {timeout_s} s")
        await asyncio.sleep(0.2)


def gateway_env(
    workdir: Path, stack: Stack, database_url: str, extra: dict[str, str]
) -> dict[str, str]:
    """The environment of a gateway process (every setting as a ``KJR_`` variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KJR_")}
    env.update(
        {
            "KJR_DATA_DIR": str(workdir / "kjr"),
            "KJR_DATABASE_URL": database_url,
            "KJR_AUDIT_SECRET": extra.pop("KJR_AUDIT_SECRET", "cluster-" + "a" * 32),
            "KJR_LOG_JSON": "true",
            "KJR_GATEWAY__SVV_URL": stack.svv_url,
            "KJR_GATEWAY__SVV_USER": stack.svv_user,
            "KJR_GATEWAY__SVV_PASSWORD": stack.svv_password,
            "KJR_GATEWAY__MASKINPORTEN_ISSUER": stack.mp_issuer,
            "KJR_GATEWAY__JWKS_MIN_REFETCH_S": "0",
            **extra,
        }
    )
    return env


@asynccontextmanager
async def start_cluster(
    workdir: Path,
    database_url: str,
    *,
    register_path: Path,
    instances: int = 2,
    env: dict[str, str] | None = None,
    authz_cache_s: float = 0.0,
) -> AsyncIterator[tuple[Stack, list[Instance]]]:
    """Simulator + Maskinporten here; ``instances`` gateway processes on ``database_url``.

    The yielded :class:`Stack` points at instance 0 (``gateway_root``); its ``audit`` is a
    null sink (the instances write the durable audit log in the database).
    """
    from kjoretoyregister.svv.register import Register
    from kjoretoyregister.svv.server import create_app as create_simulator

    _mkdir(workdir)
    ids = seed_konfig(database_url)
    mp_state = MaskinportenState.open(workdir / "mp")
    client = make_client(mp_state, CLIENT_ID, SUPPLIER_ORGNR, ["ks:fiks"])
    svv_user, svv_password = "fiks", secrets.token_urlsafe(16)
    async with AsyncExitStack() as es:
        register = Register(register_path)
        es.callback(register.close)
        sim = create_simulator(
            register,
            SvvSettings(users=[f"{svv_user}:{svv_password}"]),  # type: ignore[list-item]
        )
        svv_root = await serve(sim, es)
        mp_root = await serve(create_maskinporten(mp_state), es)
        engine = make_engine(database_url)
        es.callback(engine.dispose)
        http = aiohttp.ClientSession()
        es.push_async_callback(http.close)
        ports = [free_port() for _ in range(instances)]
        stack = Stack(
            gateway_root=f"http://{LOOPBACK}:{ports[0]}",
            gateway_url=f"http://{LOOPBACK}:{ports[0]}/kjoretoyregister/api",
            svv_root=svv_root,
            svv_url=svv_root + SVV_BASE_PATH,
            svv_user=svv_user,
            svv_password=svv_password,
            mp_issuer=mp_root + "/",
            mp_token_url=mp_root + "/token",
            mp_state=mp_state,
            database_url=database_url,
            session_factory=make_session_factory(engine),
            client=client,
            register=register,
            audit=NullAuditSink(),
            http=http,
            **ids,
        )
        started: list[Instance] = []

        def _stop_all() -> None:
            for inst in started:
                if inst.proc.poll() is None:
                    inst.proc.terminate()
                    try:
                        inst.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        inst.proc.kill()
                        inst.proc.wait(5)
                inst.log.close()

        es.callback(_stop_all)
        for i, port in enumerate(ports):
            started.append(
                start_instance(
                    workdir, stack, database_url, i, env=env, authz_cache_s=authz_cache_s, port=port
                )
            )
        for inst in started:
            await wait_ready(http, inst.root)
        yield stack, started


def start_instance(
    workdir: Path,
    stack: Stack,
    database_url: str,
    index: int,
    *,
    env: dict[str, str] | None = None,
    authz_cache_s: float = 0.0,
    port: int | None = None,
) -> Instance:
    """Start one gateway process (also: a replacement for a killed one)."""
    port = port or free_port()
    log = (workdir / f"gateway{index}.log").open("ab")
    cmd = [CLI, "gateway", "serve", "--port", str(port), "--authz-cache-s", str(authz_cache_s)]
    proc = subprocess.Popen(
        cmd,
        env=gateway_env(workdir, stack, database_url, dict(env or {})),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return Instance(port, proc, log)

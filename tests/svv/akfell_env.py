"""The akfell profile over real sockets: the simulator (``api="both"``) and the Maskinporten
stand-in, each on its own loopback port, with a client registered for SVV's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from kjoretoyregister.config import SvvSettings
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import ClientKey, make_client, running
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.server import create_app
from stack import fetch_token

SCOPE = "svv:kjoretoy/kjoretoyopplysninger"
ORGNR = "910000004"
BULK = "/kjoretoyoppslag/bulk/"
PERSON = "/kjoretoyoppslag/person"
ORGANISASJON = "/kjoretoyoppslag/organisasjon"
ENKELTOPPSLAG = "/enkeltoppslag/kjoretoydata"
ADMIN_USER = "admin:admin-passord:SIMULATOR"


@dataclass
class AkfellEnv:
    """The running simulator and stand-in, and a way to get real tokens."""

    sim: TestClient[Any, Any]
    mp_issuer: str
    mp_token_url: str
    mp_state: MaskinportenState
    client: ClientKey  # registered for SCOPE
    fiks_client: ClientKey  # registered for ks:fiks only
    http: aiohttp.ClientSession

    async def token(self, client: ClientKey | None = None, scope: str = SCOPE) -> str:
        """A real access token from the stand-in's token endpoint (JWT-bearer grant)."""
        return await fetch_token(
            self.http, self.mp_token_url, self.mp_issuer, client or self.client, scope
        )

    async def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}", **extra}

    @property
    def base(self) -> str:
        return str(self.sim.make_url(""))


@asynccontextmanager
async def akfell_env(
    register: Register, workdir: Path, **settings: Any
) -> AsyncIterator[AkfellEnv]:
    """Start the stand-in and the simulator (``api="both"`` unless overridden)."""
    state = MaskinportenState.open(workdir / "mp")
    client = make_client(state, "akfell-fagsystem", ORGNR, [SCOPE])
    fiks_client = make_client(state, "fiks-fagsystem", ORGNR, ["ks:fiks"])
    async with running(state) as mp, aiohttp.ClientSession() as http:
        fields: dict[str, Any] = {
            "users": [ADMIN_USER, "fiks:fiks-passord"],
            "api": "both",
            "akfell_issuer": mp.issuer,
            **settings,
        }
        sim: TestClient[Any, Any] = TestClient(
            TestServer(create_app(register, SvvSettings(**fields)))
        )
        await sim.start_server()
        try:
            yield AkfellEnv(
                sim=sim,
                mp_issuer=mp.issuer,
                mp_token_url=mp.token_url,
                mp_state=state,
                client=client,
                fiks_client=fiks_client,
                http=http,
            )
        finally:
            await sim.close()

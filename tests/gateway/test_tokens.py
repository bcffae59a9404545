"""The token verifier against the real Maskinporten stand-in: JWKS caching and refetch limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from kjoretoyregister.gateway.errors import TokenInvalid
from kjoretoyregister.gateway.tokens import TokenVerifier
from kjoretoyregister.maskinporten.app import JWK_PATH, create_app
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import mint_token
from stack import serve

ORGNR = "910000004"


class Clock:
    """The verifier's clock (its caches); PyJWT's own exp check still uses real time."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    issuer: str


@pytest.fixture
async def mp(tmp_path: Path) -> AsyncIterator[tuple[MaskinportenState, Server, list[str]]]:
    """The stand-in, with a counter of /jwk fetches (a response signal, not a mock)."""
    state = MaskinportenState.open(tmp_path / "mp")
    app = create_app(state)
    fetched: list[str] = []

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        if request.path == JWK_PATH:
            fetched.append(request.path)

    app.on_response_prepare.append(count)
    async with AsyncExitStack() as stack:
        root = await serve(app, stack)
        yield state, Server(root + "/"), fetched


async def test_jwks_is_cached_and_unknown_kids_refetch_at_most_once_per_interval(
    mp: tuple[MaskinportenState, Server, list[str]], tmp_path: Path
) -> None:
    """A flood of forged kids cannot make the gateway hammer Maskinporten's /jwk."""
    state, server, fetched = mp
    clock = Clock()
    async with aiohttp.ClientSession() as http:
        verifier = TokenVerifier(
            server.issuer, http, jwks_min_refetch_s=60, jwks_cache_s=86_400, clock=clock
        )
        good = mint_token(state, issuer=server.issuer, orgnr=ORGNR, iat=int(clock.now))
        assert (await verifier.verify(good)).consumer_orgnr == ORGNR
        assert len(fetched) == 1
        other = MaskinportenState.open(tmp_path / "other")
        for i in range(5):
            forged = mint_token(
                other, issuer=server.issuer, orgnr=ORGNR, iat=int(clock.now), jti=f"x{i}"
            )
            with pytest.raises(TokenInvalid):
                await verifier.verify(forged)
        assert len(fetched) == 1  # within the interval: no refetch for unknown kids
        clock.now += 61
        with pytest.raises(TokenInvalid):
            await verifier.verify(
                mint_token(other, issuer=server.issuer, orgnr=ORGNR, iat=int(time.time()))
            )
        assert len(fetched) == 2  # one refetch once the interval has passed


async def test_verified_token_is_cached_until_exp(
    mp: tuple[MaskinportenState, Server, list[str]],
) -> None:
    state, server, _ = mp
    clock = Clock()
    async with aiohttp.ClientSession() as http:
        verifier = TokenVerifier(server.issuer, http, leeway_s=10, clock=clock)
        token = mint_token(
            state, issuer=server.issuer, orgnr=ORGNR, iat=int(clock.now), lifetime_s=120
        )
        first = await verifier.verify(token)
        assert await verifier.verify(token) is first  # cache hit
        clock.now += 120 + 11
        assert await verifier.verify(token) is not first  # expired in the cache: verified again


async def test_stale_jwks_is_refetched_after_cache_lifetime(
    mp: tuple[MaskinportenState, Server, list[str]],
) -> None:
    state, server, fetched = mp
    clock = Clock()
    async with aiohttp.ClientSession() as http:
        verifier = TokenVerifier(
            server.issuer, http, jwks_cache_s=3600, jwks_min_refetch_s=60, clock=clock
        )
        await verifier.verify(
            mint_token(state, issuer=server.issuer, orgnr=ORGNR, iat=int(clock.now))
        )
        clock.now += 3601
        await verifier.verify(
            mint_token(state, issuer=server.issuer, orgnr=ORGNR, iat=int(time.time()), jti="2")
        )
        assert len(fetched) == 2

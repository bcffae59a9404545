"""Two stand-in instances sharing one Redis refuse a grant replayed on the other (MP-012).

Runs against the real Redis at 127.0.0.1:6379 (in CI its absence is a failure). Each test
uses its own key prefix, so runs never see each other's jti values.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kjoretoyregister.maskinporten.replay import RedisReplay
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import (
    ClientKey,
    RunningMaskinporten,
    make_client,
    make_grant,
    running,
)

from .helpers import SUPPLIER, post_grant

ISSUER = "http://maskinporten.test/"  # one public address in front of both instances


@pytest.fixture
def client(state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]) -> ClientKey:
    return make_client(state, "fagsystem", SUPPLIER, ["ks:fiks"], private_key=rsa_keys[0])


@pytest.fixture
async def pair(
    state: MaskinportenState, redis_url: str
) -> AsyncIterator[tuple[RunningMaskinporten, RunningMaskinporten]]:
    prefix = "kjr-test-" + secrets.token_hex(4)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            running(state, issuer=ISSUER, replay=RedisReplay(redis_url, prefix))
        )
        b = await stack.enter_async_context(
            running(state, issuer=ISSUER, replay=RedisReplay(redis_url, prefix))
        )
        yield a, b


def _grant(client: ClientKey, **options: object) -> str:
    return make_grant(
        issuer=ISSUER,
        client_id=client.client_id,
        private_key=client.private_key,
        kid=client.kid,
        **options,  # type: ignore[arg-type]
    )


async def test_replay_on_the_other_instance_is_refused(
    pair: tuple[RunningMaskinporten, RunningMaskinporten], client: ClientKey
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        grant = _grant(client)
        assert (await post_grant(http, a, grant)).status == 200
        replayed = await post_grant(http, b, grant)
        assert replayed.status == 400 and replayed.code == "MP-012", replayed.body
        again = await post_grant(http, a, grant)
        assert again.status == 400 and again.code == "MP-012"
        # A fresh grant still works on either instance.
        assert (await post_grant(http, b, _grant(client))).status == 200


async def test_same_jti_in_a_new_grant_is_refused_across_instances(
    pair: tuple[RunningMaskinporten, RunningMaskinporten], client: ClientKey
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        assert (await post_grant(http, a, _grant(client, jti="fast"))).status == 200
        answer = await post_grant(http, b, _grant(client, jti="fast"))
        assert answer.code == "MP-012"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_redis_fails_closed(state: MaskinportenState, client: ClientKey) -> None:
    replay = RedisReplay(f"redis://127.0.0.1:{_closed_port()}/0")
    async with running(state, issuer=ISSUER, replay=replay) as mp, aiohttp.ClientSession() as http:
        answer = await post_grant(http, mp, _grant(client))
        assert answer.status == 503, answer.body
        assert answer.body["error"] == "temporarily_unavailable"
        assert "access_token" not in answer.body

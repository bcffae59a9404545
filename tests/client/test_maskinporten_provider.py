"""MaskinportenTokenProvider against the real stand-in: both modes, caching, refresh, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kjoretoyregister.client.maskinporten import (
    MaskinportenError,
    MaskinportenTokenProvider,
    load_private_key,
)
from kjoretoyregister.maskinporten import keys
from kjoretoyregister.maskinporten.app import REPLAY_KEY
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import (
    ClientKey,
    RunningMaskinporten,
    make_cert_client,
    make_client,
    new_rsa_key,
    running,
)

SUPPLIER = "910000004"
KOMMUNE = "910000012"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [new_rsa_key() for _ in range(2)]


@pytest.fixture
def state(tmp_path: Path) -> MaskinportenState:
    return MaskinportenState.open(tmp_path / "mp")


@pytest.fixture
def client(state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]) -> ClientKey:
    return make_client(state, "fagsystem", SUPPLIER, private_key=rsa_keys[0])


@pytest.fixture
async def mp(state: MaskinportenState) -> AsyncIterator[RunningMaskinporten]:
    async with running(state) as server:
        yield server


def provider_for(
    mp: RunningMaskinporten, client: ClientKey, **options: object
) -> MaskinportenTokenProvider:
    return MaskinportenTokenProvider(
        token_url=mp.token_url,
        issuer=mp.issuer,
        client_id=client.client_id,
        private_key=client.private_key,
        kid=client.kid,
        **options,  # type: ignore[arg-type]
    )


def free_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def grants_used(mp: RunningMaskinporten) -> int:
    """How many grants the stand-in accepted (each accepted jti is remembered)."""
    return len(mp.app[REPLAY_KEY])


def claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


class TestModes:
    async def test_kid_mode_without_a_session(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        token = await provider_for(mp, client).atoken()
        assert claims_of(token)["client_amr"] == "private_key_jwt"

    async def test_x5c_mode_with_a_der_chain(
        self, mp: RunningMaskinporten, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        cert_client = make_cert_client(state, "sert", SUPPLIER, private_key=rsa_keys[1])
        ca = state.trust_anchors[0]
        der_chain = [c.public_bytes(serialization.Encoding.DER) for c in (*cert_client.chain, ca)]
        provider = MaskinportenTokenProvider(
            token_url=mp.token_url,
            issuer=mp.issuer,
            client_id="sert",
            private_key=keys.private_pem(rsa_keys[1]),
            certificate_chain=der_chain,
        )
        claims = claims_of(await provider.atoken())
        assert claims["client_amr"] == "virksomhetssertifikat"

    async def test_consumer_org_under_a_delegation(
        self, mp: RunningMaskinporten, state: MaskinportenState, client: ClientKey
    ) -> None:
        state.add_delegation(client.client_id, KOMMUNE, ["ks:fiks"])
        claims = claims_of(await provider_for(mp, client, consumer_org=KOMMUNE).atoken())
        assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{KOMMUNE}"}
        assert claims["supplier"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{SUPPLIER}"}

    async def test_sync_token_from_another_thread(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        """The blocking variant uses no event loop, so it can run beside one."""
        provider = provider_for(mp, client)
        token = await asyncio.to_thread(provider.token)
        assert claims_of(token)["client_id"] == "fagsystem"
        assert await asyncio.to_thread(provider.token) == token


class TestCaching:
    async def test_cached_until_expiry_minus_margin(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        clock = FakeClock()
        provider = provider_for(mp, client, refresh_margin_s=10, clock=clock)
        async with aiohttp.ClientSession() as http:
            first = await provider.atoken(http)
            clock.now += 109  # 120 s lifetime − 10 s margin: still fresh
            assert await provider.atoken(http) == first
            assert grants_used(mp) == 1
            clock.now += 2
            second = await provider.atoken(http)
        assert second != first
        assert grants_used(mp) == 2

    async def test_invalidate_fetches_a_new_token(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        provider = provider_for(mp, client)
        first = await provider.atoken()
        provider.invalidate()
        assert await provider.atoken() != first
        assert grants_used(mp) == 2

    async def test_concurrent_callers_share_one_request(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        provider = provider_for(mp, client)
        async with aiohttp.ClientSession() as http:
            tokens = await asyncio.gather(*(provider.atoken(http) for _ in range(10)))
        assert len(set(tokens)) == 1
        assert grants_used(mp) == 1

    async def test_short_lived_tokens_are_cached_for_half_their_life(
        self, state: MaskinportenState, client: ClientKey
    ) -> None:
        """A margin larger than the lifetime must not turn every call into a token request."""
        clock = FakeClock()
        async with running(state, token_lifetime_s=8) as mp:
            provider = provider_for(mp, client, refresh_margin_s=10, clock=clock)
            first = await provider.atoken()
            clock.now += 3.9
            assert await provider.atoken() == first
            clock.now += 0.2
            assert await provider.atoken() != first


class TestErrors:
    async def test_refusal_carries_error_description_and_status(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        provider = MaskinportenTokenProvider(
            token_url=mp.token_url,
            issuer=mp.issuer,
            client_id="unknown-client",
            private_key=client.private_key,
            kid=client.kid,
        )
        with pytest.raises(MaskinportenError) as info:
            await provider.atoken()
        assert info.value.error == "invalid_grant"
        assert info.value.status == 400
        assert "(MP-100)" in info.value.error_description
        with pytest.raises(MaskinportenError) as sync_info:
            await asyncio.to_thread(provider.token)
        assert sync_info.value.error == "invalid_grant"
        assert sync_info.value.status == 400

    async def test_missing_delegation_is_403(
        self, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        with pytest.raises(MaskinportenError) as info:
            await provider_for(mp, client, consumer_org=KOMMUNE).atoken()
        assert (info.value.error, info.value.status) == ("access_denied", 403)

    async def test_failed_refresh_keeps_no_stale_token(
        self, mp: RunningMaskinporten, client: ClientKey, state: MaskinportenState
    ) -> None:
        provider = provider_for(mp, client, scope="ks:fiks ks:ukjent")
        with pytest.raises(MaskinportenError, match="invalid_scope"):
            await provider.atoken()
        with pytest.raises(MaskinportenError, match="invalid_scope"):
            await provider.atoken()  # tried again, not cached

    async def test_unreachable_token_endpoint(self, client: ClientKey) -> None:
        port = free_port()
        provider = MaskinportenTokenProvider(
            token_url=f"http://127.0.0.1:{port}/token",
            issuer=f"http://127.0.0.1:{port}/",
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
            timeout_s=2,
        )
        with pytest.raises(MaskinportenError) as info:
            await provider.atoken()
        assert (info.value.error, info.value.status) == ("connection_error", None)
        # Which URL could not be reached, in words; no Python internals in the message.
        assert f"cannot reach http://127.0.0.1:{port}/token" in str(info.value)
        assert "ConnectionKey" not in str(info.value) and "Error(" not in str(info.value)
        with pytest.raises(MaskinportenError) as sync_info:
            await asyncio.to_thread(provider.token)
        assert sync_info.value.status is None
        assert f"cannot reach http://127.0.0.1:{port}/token" in str(sync_info.value)
        assert "URLError" not in str(sync_info.value)

    @pytest.mark.parametrize(
        ("status", "body", "error"),
        [
            (500, b"<html>oops</html>", "invalid_response"),
            (502, b'{"error": "temporarily_unavailable"}', "temporarily_unavailable"),
            (200, b'{"access_token": "x"}', "invalid_response"),
            (200, b'{"access_token": "x", "expires_in": "120"}', "invalid_response"),
            (200, b"not json", "invalid_response"),
        ],
    )
    async def test_odd_answers(
        self, status: int, body: bytes, error: str, client: ClientKey
    ) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, body=body, content_type="application/json")

        app = web.Application()
        app.router.add_post("/token", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            provider = MaskinportenTokenProvider(
                token_url=base + "token",
                issuer=base,
                client_id="c",
                private_key=client.private_key,
                kid="k",
            )
            with pytest.raises(MaskinportenError) as info:
                await provider.atoken()
            assert info.value.error == error
            assert info.value.status == status
        finally:
            await runner.cleanup()


class TestConstruction:
    @pytest.mark.parametrize(
        ("kid", "chain"), [(None, None), ("k", [b"x"])], ids=["neither", "both"]
    )
    def test_exactly_one_of_kid_and_chain(
        self, kid: str | None, chain: list[bytes] | None, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            MaskinportenTokenProvider(
                token_url="http://x/token",
                issuer="http://x/",
                client_id="c",
                private_key=rsa_keys[0],
                kid=kid,
                certificate_chain=chain,
            )

    def test_token_url_must_be_http(self, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
        with pytest.raises(ValueError, match="http"):
            MaskinportenTokenProvider(
                token_url="file:///etc/passwd",
                issuer="http://x/",
                client_id="c",
                private_key=rsa_keys[0],
                kid="k",
            )

    def test_load_private_key_from_path_text_and_bytes(
        self, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        pem = keys.private_pem(rsa_keys[0])
        path = tmp_path / "k.pem"
        path.write_bytes(pem)
        expected = rsa_keys[0].private_numbers()
        for source in (path, str(path), pem, pem.decode(), rsa_keys[0]):
            assert load_private_key(source).private_numbers() == expected

    def test_load_private_key_refuses_ec(self) -> None:
        ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(ValueError, match="RSA"):
            load_private_key(ec_pem)

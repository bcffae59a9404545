"""The stand-in's endpoints behave like Digdir's: metadata, JWKS, and tokens in both modes."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider
from kjoretoyregister.maskinporten.app import create_app
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import (
    RunningMaskinporten,
    make_cert_client,
    make_client,
    make_grant,
    mint_token,
    running,
)

from .helpers import SUPPLIER, post_grant


async def verify_with_jwks(
    http: aiohttp.ClientSession, mp: RunningMaskinporten, token: str, audience: str = "unspecified"
) -> dict[str, Any]:
    """Verify an access token the way an API provider does: key from /jwk by kid, PyJWT."""
    async with http.get(mp.jwks_url) as resp:
        jwks = await resp.json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK.from_dict(jwk)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=mp.issuer,
        options={"require": ["exp", "iat", "iss", "jti"]},
    )
    return claims


class TestMetadata:
    async def test_well_known_has_digdirs_fields(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten
    ) -> None:
        """Issuer is our base URL with a trailing slash; endpoints hang off it."""
        async with http.get(mp.issuer + ".well-known/oauth-authorization-server") as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            meta = await resp.json()
        assert meta["issuer"] == mp.issuer
        assert meta["issuer"].endswith("/")
        assert meta["token_endpoint"] == mp.issuer + "token"
        assert meta["jwks_uri"] == mp.issuer + "jwk"
        assert meta["grant_types_supported"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
        assert meta["token_endpoint_auth_signing_alg_values_supported"] == [
            "RS256",
            "RS384",
            "RS512",
        ]
        assert "authorization_endpoint" not in meta

    async def test_jwks_lists_the_signing_key(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, state: MaskinportenState
    ) -> None:
        async with http.get(mp.jwks_url) as resp:
            assert resp.status == 200
            jwks = await resp.json()
        (key,) = jwks["keys"]
        assert key["kid"] == state.signing_key.kid
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert {"n", "e"} <= set(key)
        assert "d" not in key, "the private exponent must never be published"

    async def test_configured_issuer_gets_a_trailing_slash(self, state: MaskinportenState) -> None:
        async with (
            running(state, issuer="http://mp.example.test") as mp,
            aiohttp.ClientSession() as http,
            http.get(mp.token_url.replace("token", ".well-known/oauth-authorization-server")) as r,
        ):
            meta = await r.json()
        assert meta["issuer"] == "http://mp.example.test/"
        assert meta["token_endpoint"] == "http://mp.example.test/token"

    async def test_mounted_under_a_prefix_the_issuer_includes_it(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """In-process mounting (e.g. in `demo`) keeps issuer, aud check and endpoints coherent."""
        root = web.Application()
        root.add_subapp("/mp", create_app(state))
        runner = web.AppRunner(root)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}/mp/"
            client = make_client(state, "prefixed", SUPPLIER, private_key=rsa_keys[0])
            async with aiohttp.ClientSession() as http:
                async with http.get(base + ".well-known/oauth-authorization-server") as resp:
                    meta = await resp.json()
                assert meta["issuer"] == base
                assert meta["token_endpoint"] == base + "token"
                grant = make_grant(
                    issuer=base,
                    client_id=client.client_id,
                    private_key=client.private_key,
                    kid=client.kid,
                )
                form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
                async with http.post(base + "token", data={**form, "assertion": grant}) as resp:
                    assert resp.status == 200, await resp.text()
        finally:
            await runner.cleanup()


class TestTokens:
    async def test_kid_mode_with_the_token_provider(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """A registered key + kid gives a token with client_amr private_key_jwt."""
        client = make_client(state, "fagsystem-kid", SUPPLIER, private_key=rsa_keys[0])
        provider = MaskinportenTokenProvider(
            token_url=mp.token_url,
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
        )
        token = await provider.atoken(http)
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "RS256", "kid": state.signing_key.kid}
        claims = await verify_with_jwks(http, mp, token)
        assert claims["iss"] == mp.issuer
        assert claims["client_id"] == "fagsystem-kid"
        assert claims["client_amr"] == "private_key_jwt"
        assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{SUPPLIER}"}
        assert claims["scope"] == "ks:fiks"
        assert claims["token_type"] == "Bearer"
        assert claims["aud"] == "unspecified"
        assert claims["exp"] - claims["iat"] == 120
        assert abs(claims["iat"] - time.time()) < 5
        assert claims["jti"]
        assert "supplier" not in claims and "delegation_source" not in claims

    async def test_x5c_mode_with_the_token_provider(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """A virksomhetssertifikat chain from the test CA gives client_amr virksomhetssertifikat."""
        client = make_cert_client(state, "fagsystem-x5c", SUPPLIER, private_key=rsa_keys[1])
        provider = MaskinportenTokenProvider(
            token_url=mp.token_url,
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            certificate_chain=client.chain_pem,
        )
        claims = await verify_with_jwks(http, mp, await provider.atoken(http))
        assert claims["client_amr"] == "virksomhetssertifikat"
        assert claims["client_id"] == "fagsystem-x5c"
        assert claims["consumer"]["ID"] == f"0192:{SUPPLIER}"

    async def test_grant_built_by_hand_from_digdirs_documentation(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """Only PyJWT and aiohttp, following docs.digdir.no «JWT grant» and «token» to the letter.

        This guards against the project's own client and server sharing a misreading.
        """
        private_key = rsa_keys[2]
        client = make_client(state, "handmade", SUPPLIER, private_key=private_key)
        now = int(time.time())
        grant = jwt.encode(
            {
                "aud": mp.issuer,  # Maskinporten's issuer identifier, not the token URL
                "iss": "handmade",  # the client_id
                "scope": "ks:fiks",
                "iat": now,
                "exp": now + 120,
                "jti": str(uuid.uuid4()),
            },
            private_key,
            algorithm="RS256",
            headers={"kid": client.kid},
        )
        async with http.post(
            mp.token_url,
            data=f"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={grant}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.content_type == "application/json"
            assert resp.headers["Cache-Control"] == "no-store"
            body = await resp.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 120
        assert body["scope"] == "ks:fiks"
        claims = await verify_with_jwks(http, mp, body["access_token"])
        assert claims["consumer"]["ID"] == f"0192:{SUPPLIER}"

    async def test_resource_becomes_the_audience(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_client(state, "restricted", SUPPLIER, private_key=rsa_keys[0])
        provider = MaskinportenTokenProvider(
            token_url=mp.token_url,
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
            resource="https://api.fiks.test.example/",
        )
        token = await provider.atoken(http)
        claims = await verify_with_jwks(http, mp, token, audience="https://api.fiks.test.example/")
        assert claims["aud"] == "https://api.fiks.test.example/"
        with pytest.raises(jwt.InvalidAudienceError):
            await verify_with_jwks(http, mp, token)

    async def test_several_scopes(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_client(
            state, "multi", SUPPLIER, ["ks:fiks", "ks:annet"], private_key=rsa_keys[0]
        )
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
            scope="ks:fiks ks:annet",
        )
        answer = await post_grant(http, mp, grant)
        assert answer.status == 200
        assert answer.body["scope"] == "ks:fiks ks:annet"

    @pytest.mark.parametrize("alg", ["RS384", "RS512"])
    async def test_rs384_and_rs512_grants_are_accepted(
        self,
        alg: str,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_client(state, "algs", SUPPLIER, private_key=rsa_keys[0])
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
            alg=alg,
        )
        assert (await post_grant(http, mp, grant)).status == 200

    async def test_token_lifetime_is_configurable(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        client = make_client(state, "short", SUPPLIER, private_key=rsa_keys[0])
        async with running(state, token_lifetime_s=30) as mp, aiohttp.ClientSession() as http:
            grant = make_grant(
                issuer=mp.issuer,
                client_id=client.client_id,
                private_key=client.private_key,
                kid=client.kid,
            )
            answer = await post_grant(http, mp, grant)
            assert answer.body["expires_in"] == 30
            claims = await verify_with_jwks(http, mp, answer.body["access_token"])
        assert claims["exp"] - claims["iat"] == 30

    async def test_a_one_element_aud_array_is_the_same_single_value(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """RFC 7519 §4.1.3: ["x"] and "x" name one audience; only two values break the rule."""
        client = make_client(state, "aud-list", SUPPLIER, private_key=rsa_keys[0])
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid=client.kid,
            extra_claims={"aud": [mp.issuer]},
        )
        assert (await post_grant(http, mp, grant)).status == 200


def test_mint_token_fixtures_for_gateway_tests(
    state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    """Expired, wrong-issuer and foreign-signed tokens, made without a grant (§2.7 item 6)."""
    public = state.signing_key.private_key.public_key()
    ok = mint_token(state, issuer="http://mp/", orgnr=SUPPLIER)
    claims = jwt.decode(
        ok, public, algorithms=["RS256"], audience="unspecified", issuer="http://mp/"
    )
    assert claims["consumer"]["ID"] == f"0192:{SUPPLIER}"
    expired = mint_token(state, issuer="http://mp/", orgnr=SUPPLIER, iat=int(time.time()) - 600)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, public, algorithms=["RS256"], audience="unspecified")
    wrong = mint_token(state, issuer="http://elsewhere/", orgnr=SUPPLIER)
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(wrong, public, algorithms=["RS256"], audience="unspecified", issuer="http://mp/")
    no_fiks = mint_token(state, issuer="http://mp/", orgnr=SUPPLIER, scope="ks:annet")
    assert jwt.decode(no_fiks, public, algorithms=["RS256"], audience="unspecified")["scope"] == (
        "ks:annet"
    )


def test_token_signature_segment_is_for_a_2048_bit_key(state: MaskinportenState) -> None:
    """Our keys are 2048-bit RSA: a 256-byte signature (342 base64url characters)."""
    token = mint_token(state, issuer="http://x/", orgnr=SUPPLIER)
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "==")) == 256

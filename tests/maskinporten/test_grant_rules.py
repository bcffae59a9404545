"""Every grant rule, broken once, gets the error Digdir documents for it (fiks-platform.md §2.6)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kjoretoyregister.maskinporten import certs, keys
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import (
    ClientKey,
    RunningMaskinporten,
    foreign_certificate,
    make_cert_client,
    make_client,
    make_grant,
    running,
)

from .helpers import KOMMUNE, OTHER_ORG, SUPPLIER, Answer, post_grant


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand (for algorithms PyJWT refuses to produce)."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def grant_claims(mp: RunningMaskinporten, client_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": mp.issuer,
        "iss": client_id,
        "scope": "ks:fiks",
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.monotonic_ns()}",
    }


@pytest.fixture
def client(state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]) -> ClientKey:
    return make_client(state, "fagsystem", SUPPLIER, ["ks:fiks"], private_key=rsa_keys[0])


def grant_for(mp: RunningMaskinporten, client: ClientKey, **options: Any) -> str:
    return make_grant(
        issuer=mp.issuer,
        client_id=client.client_id,
        private_key=client.private_key,
        kid=client.kid,
        **options,
    )


def assert_refused(answer: Answer, status: int, error: str, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.content_type == "application/json"
    assert answer.body["error"] == error, answer.body
    assert answer.code == code, answer.body
    assert set(answer.body) == {"error", "error_description"}


class TestReplayAndTime:
    async def test_replayed_jti_is_refused(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client)
        assert (await post_grant(http, mp, grant)).status == 200
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-012")

    async def test_same_jti_in_a_new_grant_is_refused(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        """Single use is per jti, not per signed blob: re-signing does not help."""
        assert (await post_grant(http, mp, grant_for(mp, client, jti="fixed"))).status == 200
        again = grant_for(mp, client, jti="fixed", iat=time.time() - 1)
        assert_refused(await post_grant(http, mp, again), 400, "invalid_grant", "MP-012")

    @pytest.mark.parametrize("offset", [15, -15], ids=["future", "past"])
    async def test_iat_skew_beyond_10_s(
        self, offset: int, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, iat=time.time() + offset, lifetime_s=60)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-130")

    async def test_lifetime_over_120_s(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, lifetime_s=121)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-130")

    async def test_expired_grant(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, iat=time.time() - 8, lifetime_s=5)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-130")

    async def test_exp_before_iat(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, lifetime_s=-5)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

    async def test_boundaries_are_inclusive(
        self, state: MaskinportenState, client: ClientKey, http: aiohttp.ClientSession
    ) -> None:
        """With a frozen clock: iat exactly ±10 s and exp − iat exactly 120 s are accepted."""
        frozen = float(int(time.time()))
        async with running(state, clock=lambda: frozen) as mp:
            for iat, lifetime in [(frozen + 10, 120), (frozen - 10, 120), (frozen, 120)]:
                answer = await post_grant(
                    http, mp, grant_for(mp, client, iat=iat, lifetime_s=lifetime)
                )
                assert answer.status == 200, (iat - frozen, answer.body)
            for iat, lifetime in [(frozen + 11, 60), (frozen - 11, 60), (frozen, 121)]:
                answer = await post_grant(
                    http, mp, grant_for(mp, client, iat=iat, lifetime_s=lifetime)
                )
                assert_refused(answer, 400, "invalid_grant", "MP-130")

    async def test_missing_jti(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, drop_claims=["jti"])
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

    @pytest.mark.parametrize("claim", ["iat", "exp"])
    async def test_missing_time_claims(
        self, claim: str, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, drop_claims=[claim])
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")


class TestClaims:
    async def test_token_endpoint_as_aud_is_wrong(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        """Digdir: «Using the token-endpoint url as audience is no longer valid»."""
        grant = grant_for(mp, client, extra_claims={"aud": mp.token_url})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-110")

    async def test_issuer_without_trailing_slash_is_wrong(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"aud": mp.issuer.rstrip("/")})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-110")

    async def test_aud_list_of_two(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"aud": [mp.issuer, "https://other/"]})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-110")

    async def test_missing_aud(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, drop_claims=["aud"])
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-110")

    @pytest.mark.parametrize(
        "extra",
        [{"sub": "fagsystem"}, {"nbf": 0}, {"client_orgno": SUPPLIER}, {"foo": "bar"}],
        ids=["sub", "nbf", "client_orgno", "foo"],
    )
    async def test_unknown_claim(
        self,
        extra: dict[str, Any],
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        client: ClientKey,
    ) -> None:
        """Digdir: undocumented claims give «400 Bad request … Invalid assertion»."""
        answer = await post_grant(http, mp, grant_for(mp, client, extra_claims=extra))
        assert_refused(answer, 400, "invalid_request", "MP-011")
        assert "Invalid assertion" in answer.body["error_description"]
        assert next(iter(extra)) in answer.body["error_description"]

    async def test_unregistered_scope(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, scope="ks:fiks skatteetaten:hemmelig")
        answer = await post_grant(http, mp, grant)
        assert_refused(answer, 400, "invalid_scope", "MP-200")
        assert "skatteetaten:hemmelig" in answer.body["error_description"]

    @pytest.mark.parametrize("scope", ["", "   ", "ks:fiks\tæ", 42])
    async def test_malformed_scope(
        self, scope: Any, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"scope": scope})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

    async def test_authorization_details_is_not_offered(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(
            mp, client, extra_claims={"authorization_details": [{"type": "urn:altinn:systemuser"}]}
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-301")

    async def test_resource_must_be_strings(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"resource": [1, 2]})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")


class TestClientAuthentication:
    async def test_unknown_client(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"iss": "no-such-client"})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-100")

    async def test_unknown_kid(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=client.private_key,
            kid="not-registered",
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_signed_with_another_key_than_kid_names(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        client: ClientKey,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        grant = make_grant(
            issuer=mp.issuer, client_id=client.client_id, private_key=rsa_keys[3], kid=client.kid
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_expired_registered_key(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """Digdir's keys live one year; an expired one gives MP-121."""
        kid = state.register_client(
            "old-key",
            SUPPLIER,
            ["ks:fiks"],
            public_key_pem=keys.public_pem(rsa_keys[0].public_key()),
            key_expires_at=int(time.time()) - 1,
        )
        grant = make_grant(issuer=mp.issuer, client_id="old-key", private_key=rsa_keys[0], kid=kid)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-121")

    async def test_neither_kid_nor_x5c(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = make_grant(
            issuer=mp.issuer, client_id=client.client_id, private_key=client.private_key
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

    async def test_both_kid_and_x5c(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        cert_client = make_cert_client(state, "both", SUPPLIER, private_key=rsa_keys[1])
        key_client = make_client(state, "both", SUPPLIER, private_key=rsa_keys[1])
        grant = make_grant(
            issuer=mp.issuer,
            client_id="both",
            private_key=rsa_keys[1],
            kid=key_client.kid,
            x5c=cert_client.x5c,
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")


class TestAlgorithms:
    async def test_alg_none(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = unsigned_jwt({"alg": "none", "kid": client.kid}, grant_claims(mp, client.client_id))
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_hs256_with_a_shared_secret(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=b"a-shared-secret-of-32-bytes-long!",
            kid=client.kid,
            alg="HS256",
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_hs256_signed_with_the_rsa_public_key_as_secret(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        """The algorithm-confusion attack: HMAC keyed with the registered public key's PEM."""
        header = {"alg": "HS256", "typ": "JWT", "kid": client.kid}
        claims = grant_claims(mp, client.client_id)
        signing_input = (
            f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
        )
        secret = keys.public_pem(client.private_key.public_key())
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        grant = f"{signing_input.decode()}.{_b64(mac)}"
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_es256(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = make_grant(
            issuer=mp.issuer,
            client_id=client.client_id,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            kid=client.kid,
            alg="ES256",
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_ps256(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        """RSA-PSS is RSA but not one of the three algorithms Digdir lists."""
        grant = grant_for(mp, client, alg="PS256")
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")


class TestVirksomhetssertifikat:
    async def test_grant_signed_by_another_key_than_the_certificate(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_cert_client(state, "x5c", SUPPLIER, private_key=rsa_keys[1])
        grant = make_grant(
            issuer=mp.issuer, client_id="x5c", private_key=rsa_keys[2], x5c=client.x5c
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-124")

    async def test_certificate_from_a_foreign_ca(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        make_cert_client(state, "x5c", SUPPLIER, private_key=rsa_keys[1])
        foreign = foreign_certificate(SUPPLIER, rsa_keys[1], ca_key=rsa_keys[3])
        grant = make_grant(
            issuer=mp.issuer,
            client_id="x5c",
            private_key=rsa_keys[1],
            x5c=[certs.cert_der_b64(foreign)],
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-120")

    async def test_foreign_chain_that_includes_its_own_root(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """A chain carrying its own self-signed root proves nothing: trust is ours to decide."""
        make_cert_client(state, "x5c", SUPPLIER, private_key=rsa_keys[1])
        root = certs.create_ca(rsa_keys[3], name="Evil CA")
        leaf = certs.issue_virksomhetssertifikat(
            rsa_keys[3], root, rsa_keys[1].public_key(), SUPPLIER
        )
        grant = make_grant(
            issuer=mp.issuer,
            client_id="x5c",
            private_key=rsa_keys[1],
            x5c=[certs.cert_der_b64(leaf), certs.cert_der_b64(root)],
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-120")

    async def test_certificate_orgnr_is_not_the_clients(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_cert_client(
            state, "x5c", SUPPLIER, private_key=rsa_keys[1], cert_orgnr=OTHER_ORG
        )
        grant = make_grant(
            issuer=mp.issuer, client_id="x5c", private_key=rsa_keys[1], x5c=client.x5c
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-122")

    async def test_expired_certificate(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        client = make_cert_client(
            state,
            "x5c",
            SUPPLIER,
            private_key=rsa_keys[1],
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=35),
        )
        grant = make_grant(
            issuer=mp.issuer, client_id="x5c", private_key=rsa_keys[1], x5c=client.x5c
        )
        answer = await post_grant(http, mp, grant)
        assert_refused(answer, 400, "invalid_grant", "MP-120")
        assert "expired" in answer.body["error_description"]

    async def test_no_ca_configured(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        state.register_client("x5c", SUPPLIER, ["ks:fiks"])
        cert = foreign_certificate(SUPPLIER, rsa_keys[1], ca_key=rsa_keys[3])
        grant = make_grant(
            issuer=mp.issuer,
            client_id="x5c",
            private_key=rsa_keys[1],
            x5c=[certs.cert_der_b64(cert)],
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-120")

    @pytest.mark.parametrize(
        "x5c",
        ["as-a-string", [], ["!!not base64!!"], [base64.b64encode(b"not DER").decode()], [42]],
        ids=["string", "empty", "bad-base64", "not-der", "number"],
    )
    async def test_malformed_x5c(
        self,
        x5c: Any,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        """A plain string instead of an array is Digdir's MP-123 example."""
        state.register_client("x5c", SUPPLIER, ["ks:fiks"])
        grant = make_grant(issuer=mp.issuer, client_id="x5c", private_key=rsa_keys[1], x5c=x5c)
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-123")

    async def test_x5c_string_holding_a_valid_certificate_is_still_refused(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        client = make_cert_client(state, "x5c", SUPPLIER, private_key=rsa_keys[1])
        grant = make_grant(
            issuer=mp.issuer, client_id="x5c", private_key=rsa_keys[1], x5c=client.x5c[0]
        )
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_grant", "MP-123")


class TestDelegation:
    async def test_consumer_org_without_delegation(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"consumer_org": KOMMUNE})
        assert_refused(await post_grant(http, mp, grant), 403, "access_denied", "MP-251")

    async def test_consumer_org_with_delegation(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        client: ClientKey,
    ) -> None:
        """The token names the kommune as consumer and the supplier as supplier."""
        state.add_delegation(client.client_id, KOMMUNE, ["ks:fiks"])
        answer = await post_grant(
            http, mp, grant_for(mp, client, extra_claims={"consumer_org": KOMMUNE})
        )
        assert answer.status == 200, answer.body
        claims = jwt.decode(answer.body["access_token"], options={"verify_signature": False})
        assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{KOMMUNE}"}
        assert claims["supplier"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{SUPPLIER}"}
        assert claims["delegation_source"] == "https://tt02.altinn.no/"

    async def test_delegation_must_cover_every_scope(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        client: ClientKey,
    ) -> None:
        state.add_delegation(client.client_id, KOMMUNE, ["ks:fiks"])
        grant = grant_for(
            mp, client, scope="ks:fiks ks:annet", extra_claims={"consumer_org": KOMMUNE}
        )
        assert_refused(await post_grant(http, mp, grant), 403, "access_denied", "MP-251")

    async def test_delegation_to_another_client_does_not_count(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        client: ClientKey,
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        make_client(state, "other", OTHER_ORG, private_key=rsa_keys[2])
        state.add_delegation("other", KOMMUNE, ["ks:fiks"])
        grant = grant_for(mp, client, extra_claims={"consumer_org": KOMMUNE})
        assert_refused(await post_grant(http, mp, grant), 403, "access_denied", "MP-251")

    async def test_removed_delegation_is_seen_at_once(
        self,
        http: aiohttp.ClientSession,
        mp: RunningMaskinporten,
        state: MaskinportenState,
        client: ClientKey,
    ) -> None:
        state.add_delegation(client.client_id, KOMMUNE, ["ks:fiks"])
        ok = grant_for(mp, client, extra_claims={"consumer_org": KOMMUNE})
        assert (await post_grant(http, mp, ok)).status == 200
        # Another process (the CLI) removes it; the server reads the change on the next request.
        MaskinportenState.open(state.state_dir).remove_delegation(client.client_id, KOMMUNE)
        again = grant_for(mp, client, extra_claims={"consumer_org": KOMMUNE})
        assert_refused(await post_grant(http, mp, again), 403, "access_denied", "MP-251")

    async def test_consumer_org_equal_to_own_org(
        self, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"consumer_org": SUPPLIER})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

    @pytest.mark.parametrize("value", ["12345678", "910000005", 910000012])
    async def test_consumer_org_not_an_orgnr(
        self, value: Any, http: aiohttp.ClientSession, mp: RunningMaskinporten, client: ClientKey
    ) -> None:
        grant = grant_for(mp, client, extra_claims={"consumer_org": value})
        assert_refused(await post_grant(http, mp, grant), 400, "invalid_request", "MP-011")

"""Checks 1–3 end to end: the token, the integration, activation and privilege.

Runs the real Maskinporten stand-in and Konfigurasjon database behind the gateway; the upstream
is a capturing stand-in for SVV, so each test can also assert that nothing reached it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import make_client, mint_token
from stack import SUPPLIER_ORGNR, CaptureUpstream, Stack, start_stack

TOKEN_MESSAGE = "Klarte ikke å validere access_token"
BODY = [{"kjennemerke": "CU11297"}]


# Most tests share one stack (they change nothing); the ones that rotate keys, revoke or
# deactivate get a fresh one.
pytestmark = pytest.mark.asyncio(loop_scope="module")
Env = tuple[Stack, CaptureUpstream]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    capture = CaptureUpstream(orjson.dumps([{"responskoder": []}]))
    async with start_stack(tmp_path_factory.mktemp("auth"), upstream=capture.app()) as s:
        yield s, capture


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared: Env) -> Env:
    stack, capture = shared
    capture.requests.clear()
    stack.memory_audit.events.clear()
    return shared


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(tmp_path: Path) -> AsyncIterator[Env]:
    capture = CaptureUpstream(orjson.dumps([{"responskoder": []}]))
    async with start_stack(tmp_path / "stack", upstream=capture.app()) as s:
        yield s, capture


async def _post(
    stack: Stack, headers: dict[str, str], *, org: str | None = None
) -> tuple[int, Any]:
    async with stack.http.post(
        stack.api("bulk/kjennemerke", org=org), json=BODY, headers=headers
    ) as resp:
        return resp.status, await resp.json()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mint(stack: Stack, **kw: Any) -> str:
    kw.setdefault("issuer", stack.mp_issuer)
    kw.setdefault("orgnr", SUPPLIER_ORGNR)
    return mint_token(stack.mp_state, **kw)


def _claims(stack: Stack) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": stack.mp_issuer,
        "scope": "ks:fiks",
        "consumer": {"authority": "iso6523-actorid-upis", "ID": f"0192:{SUPPLIER_ORGNR}"},
        "client_id": "x",
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
    }


class TestToken:
    async def test_real_token_passes(self, env: Env) -> None:
        stack, capture = env
        status, _ = await _post(stack, stack.headers(await stack.token()))
        assert status == 200
        assert len(capture.requests) == 1

    # Every way a token can be wrong gives the same 401 and nothing goes upstream.
    @pytest.mark.parametrize(
        "case",
        [
            "missing",
            "basic",
            "garbage",
            "alg_none",
            "hs256_with_public_key",
            "expired",
            "not_yet_valid",
            "wrong_issuer",
            "missing_scope",
            "foreign_key",
            "foreign_audience",
            "bad_consumer",
            "no_exp",
        ],
    )
    async def test_bad_tokens_are_401(self, env: Env, case: str, tmp_path: Path) -> None:
        stack, capture = env
        auth = f"Bearer {self._bad_token(stack, case, tmp_path)}"
        headers = stack.headers("x")
        if case == "missing":
            del headers["Authorization"]
        elif case == "basic":
            headers["Authorization"] = "Basic Zm9vOmJhcg=="
        else:
            headers["Authorization"] = auth
        status, body = await _post(stack, headers)
        assert status == 401, body
        assert body["message"] == TOKEN_MESSAGE
        assert body["errorCode"] == "KJR-GW-TOKEN"
        assert body["status"] == 401 and body["error"] == "Unauthorized"
        assert capture.requests == []
        assert stack.memory_audit.events == []  # not attributable: nobody to audit

    def _bad_token(self, stack: Stack, case: str, tmp_path: Path) -> str:
        kid = stack.mp_state.signing_key.kid
        now = int(time.time())
        if case in ("missing", "basic"):
            return ""
        if case == "garbage":
            return "not.a.jwt"
        if case == "alg_none":
            header = _b64(orjson.dumps({"alg": "none", "kid": kid, "typ": "JWT"}))
            return f"{header}.{_b64(orjson.dumps(_claims(stack)))}."
        if case == "hs256_with_public_key":
            # The classic confusion attack: HMAC keyed with the RSA public key the JWKS shows.
            pem = stack.mp_state.signing_key.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            signing_input = (
                _b64(orjson.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}))
                + "."
                + _b64(orjson.dumps(_claims(stack)))
            )
            sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(sig)}"
        if case == "expired":
            return _mint(stack, iat=now - 600, lifetime_s=120)
        if case == "not_yet_valid":
            return _mint(stack, iat=now + 600, lifetime_s=120)
        if case == "wrong_issuer":
            return _mint(stack, issuer="https://maskinporten.no/")
        if case == "missing_scope":
            return _mint(stack, scope="ks:annet")
        if case == "foreign_key":
            other = MaskinportenState.open(tmp_path / "other-mp")
            return _mint(stack, signing_key=other.signing_key)
        if case == "foreign_audience":
            return _mint(stack, aud="https://annen-tjeneste.example/")
        if case == "bad_consumer":
            return _mint(stack, consumer={"authority": "x", "ID": "9908:910000004"})
        if case == "no_exp":
            claims = _claims(stack)
            del claims["exp"]
            key = stack.mp_state.signing_key.private_key
            return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        raise AssertionError(case)

    @pytest.mark.parametrize("aud", ["unspecified", None])
    async def test_unspecified_or_absent_audience_passes(self, env: Env, aud: str | None) -> None:
        stack, _ = env
        claims = _claims(stack)
        if aud:
            claims["aud"] = aud
        key = stack.mp_state.signing_key
        token = jwt.encode(claims, key.private_key, algorithm="RS384", headers={"kid": key.kid})
        status, body = await _post(stack, stack.headers(token))
        assert status == 200, body

    async def test_key_rotation_new_tokens_verify_after_refetch(self, fresh: Env) -> None:
        """After Maskinporten rotates its key, tokens with the new kid verify (JWKS refetched)."""
        stack, _ = fresh
        old = await stack.token()
        assert (await _post(stack, stack.headers(old)))[0] == 200
        new_kid = stack.mp_state.rotate_signing_key()
        new = await stack.token()
        assert jwt.get_unverified_header(new)["kid"] == new_kid
        status, body = await _post(stack, stack.headers(new))
        assert status == 200, body
        assert (await _post(stack, stack.headers(old)))[0] == 200  # cached / still published


async def test_jwks_unreachable_is_503_with_maskinporten_code(tmp_path: Path) -> None:
    """When the JWKS cannot be fetched the caller gets 503 KJR-MP-…, not a misleading 401."""
    capture = CaptureUpstream()
    closed = "http://127.0.0.1:9/"  # discard port: nothing listens on loopback
    async with start_stack(
        tmp_path / "s", upstream=capture.app(), gateway={"maskinporten_issuer": closed}
    ) as stack:
        token = mint_token(stack.mp_state, issuer=closed, orgnr=SUPPLIER_ORGNR)
        status, body = await _post(stack, stack.headers(token))
        assert status == 503
        assert body["errorCode"] == "KJR-MP-JWKS-UTILGJENGELIG"
        assert capture.requests == []


class TestIntegration:
    # The same 401 message for each way the integration can fail.
    @pytest.mark.parametrize(
        "case", ["wrong_password", "unknown_id", "not_uuid", "missing_id", "missing_password"]
    )
    async def test_integration_failures_are_401(self, env: Env, case: str) -> None:
        stack, capture = env
        headers = stack.headers(await stack.token())
        if case == "wrong_password":
            headers["IntegrasjonPassord"] = "feil-passord-" + "x" * 20
        elif case == "unknown_id":
            headers["IntegrasjonId"] = str(uuid.uuid4())
        elif case == "not_uuid":
            headers["IntegrasjonId"] = "../../etc/passwd"
        elif case == "missing_id":
            del headers["IntegrasjonId"]
        else:
            del headers["IntegrasjonPassord"]
        status, body = await _post(stack, headers)
        assert status == 401, body
        assert body["message"].startswith("Autentisering feilet for integrasjon med id ")
        assert body["errorCode"] == "KJR-GW-INTEGRASJON"
        if case in ("wrong_password", "unknown_id"):
            assert body["message"].endswith(headers["IntegrasjonId"])
        assert "passord" not in body["message"].lower()
        assert capture.requests == []

    async def test_token_for_org_a_with_integration_of_org_b_is_401(self, env: Env) -> None:
        """A valid token whose consumer is not the integration's autorisert org: 401."""
        stack, capture = env
        other = make_client(stack.mp_state, "annen-leverandor", "964338531", ["ks:fiks"])
        token = await stack.token(client=other)
        status, body = await _post(stack, stack.headers(token))
        assert status == 401
        assert (
            body["message"] == f"Autentisering feilet for integrasjon med id {stack.integrasjon_id}"
        )
        assert capture.requests == []

    async def test_header_names_are_case_insensitive(self, env: Env) -> None:
        stack, _ = env
        token = await stack.token()
        headers = {
            "authorization": f"Bearer {token}",
            "integrasjonid": stack.integrasjon_id,
            "INTEGRASJONPASSORD": stack.integrasjon_passord,
        }
        assert (await _post(stack, headers))[0] == 200


class TestAccess:
    async def test_org_without_grant_is_403(self, env: Env) -> None:
        stack, capture = env
        status, body = await _post(
            stack, stack.headers(await stack.token()), org=stack.other_fiks_org_id
        )
        assert status == 403 and body["errorCode"] == "KJR-GW-TILGANG"
        assert capture.requests == []
        (event,) = stack.memory_audit.events  # authenticated: the refusal is audited
        assert event.http_status == 403 and event.items == ()

    async def test_unknown_org_is_403(self, env: Env) -> None:
        stack, _ = env
        status, _ = await _post(stack, stack.headers(await stack.token()), org=str(uuid.uuid4()))
        assert status == 403

    async def test_missing_privilege_is_403(self, fresh: Env) -> None:
        """OPPSLAG alone does not open the owner searches (EIERSOK)."""
        stack, capture = fresh
        with stack.session_factory.begin() as s:
            service.revoke(s, stack.integrasjon_id, stack.fiks_org_id, EIERSOK)
        token = await stack.token()
        async with stack.http.get(
            stack.api("sok/fodselsnummer") + "?fodselsnummer=01818012345",
            headers=stack.headers(token),
        ) as resp:
            assert resp.status == 403
        assert (await _post(stack, stack.headers(token)))[0] == 200  # OPPSLAG still works
        assert len(capture.requests) == 1

    async def test_deactivated_service_is_403(self, fresh: Env) -> None:
        stack, _ = fresh
        with stack.session_factory.begin() as s:
            service.deactivate(s, stack.fiks_org_id)
        assert (await _post(stack, stack.headers(await stack.token())))[0] == 403


@pytest.mark.parametrize("cache_s", [0.0, 0.4])
async def test_revocation_is_seen_next_request_or_within_cache_ttl(
    tmp_path: Path, cache_s: float
) -> None:
    """Strict by default: a revoked grant fails the very next request. With the opt-in
    decision cache it fails once the cached OK has expired (never later)."""
    capture = CaptureUpstream(orjson.dumps([{"responskoder": []}]))
    async with start_stack(
        tmp_path / "s", upstream=capture.app(), decision_cache_s=cache_s
    ) as stack:
        headers = stack.headers(await stack.token())
        assert (await _post(stack, headers))[0] == 200
        with stack.session_factory.begin() as s:
            service.revoke(s, stack.integrasjon_id, stack.fiks_org_id, OPPSLAG)
        expected_now = 200 if cache_s else 403
        assert (await _post(stack, headers))[0] == expected_now
        await asyncio.sleep(cache_s + 0.1)
        assert (await _post(stack, headers))[0] == 403


async def test_konfig_database_failure_is_503_not_401(fresh: Env) -> None:
    """A broken Konfigurasjon database must not look like a wrong password (401) or a bug."""
    stack, capture = fresh
    headers = stack.headers(await stack.token())
    with stack.session_factory.begin() as s:
        s.execute(text("ALTER TABLE tilgang RENAME TO tilgang_borte"))
    status, body = await _post(stack, headers)
    assert status == 503 and body["errorCode"] == "KJR-GW-KONFIG-UTILGJENGELIG"
    assert capture.requests == []

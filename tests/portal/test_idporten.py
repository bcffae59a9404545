"""The ID-porten-like login of the Maskinporten stand-in, and the portal's side of the flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from kjoretoyregister.maskinporten.app import create_app
from kjoretoyregister.maskinporten.idporten import (
    OidcClient,
    TestPerson,
    is_synthetic_fnr,
    make_synthetic_fnr,
)
from kjoretoyregister.maskinporten.state import MaskinportenState
from portal.conftest import browser_session
from portal.helpers import EMPLOYEE, PortalStack

CLIENT = OidcClient("rp", "s3cret-s3cret", redirect_uris=("http://rp.example/cb",))
PERSON = TestPerson(make_synthetic_fnr(date(1980, 1, 31), 100), "Test Testesen")


@pytest.fixture
async def idp(tmp_path: Path) -> AsyncIterator[str]:
    state = MaskinportenState.open(tmp_path / "mp")
    server = TestServer(create_app(state, idporten_clients=[CLIENT], idporten_persons=[PERSON]))
    await server.start_server()
    try:
        yield str(server.make_url("/idporten/"))
    finally:
        await server.close()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def _authz(challenge: str, **over: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT.client_id,
        "redirect_uri": "http://rp.example/cb",
        "scope": "openid profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(over)
    return params


async def _code(http: aiohttp.ClientSession, idp: str, challenge: str) -> str:
    form = {
        k: v
        for k, v in _authz(challenge).items()
        if k not in ("response_type", "code_challenge_method")
    }
    form.update(pid=PERSON.pid, name=PERSON.name)
    async with http.post(idp + "authorize", data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
        location = resp.headers["Location"]
    assert location.startswith("http://rp.example/cb?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["state"] == "st-1"
    return query["code"]


async def _token(
    http: aiohttp.ClientSession,
    idp: str,
    code: str,
    verifier: str,
    secret: str = CLIENT.client_secret,
) -> tuple[int, dict[str, object]]:
    async with http.post(
        idp + "token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": "http://rp.example/cb",
        },
        headers={
            "Authorization": "Basic "
            + base64.b64encode(f"{CLIENT.client_id}:{secret}".encode()).decode()
        },
    ) as resp:
        return resp.status, await resp.json()


def test_synthetic_fnr() -> None:
    fnr = make_synthetic_fnr(date(2001, 12, 24), 500)
    assert is_synthetic_fnr(fnr) and int(fnr[2:4]) == 92
    assert not is_synthetic_fnr(fnr[:-1] + str((int(fnr[-1]) + 1) % 10))
    assert not is_synthetic_fnr("01019012345")  # not synthetic (month 01)
    assert not is_synthetic_fnr("abc")


async def test_discovery_and_jwks_share_maskinporten_keys(idp: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(idp + ".well-known/openid-configuration") as resp:
            doc = await resp.json()
        async with http.get(idp.replace("/idporten/", "/jwk")) as resp:
            mp_keys = await resp.json()
        async with http.get(doc["jwks_uri"]) as resp:
            id_keys = await resp.json()
    assert doc["issuer"] == idp
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert id_keys == mp_keys


async def test_code_flow_with_pkce_gives_an_id_token(idp: str) -> None:
    verifier, challenge = _pkce()
    async with aiohttp.ClientSession() as http:
        async with http.get(idp + "authorize", params=_authz(challenge)) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert PERSON.name in page and 'lang="nb"' in page
        code = await _code(http, idp, challenge)
        status, body = await _token(http, idp, code, verifier)
        assert status == 200, body
        async with http.get(idp + "jwks") as resp:
            jwks = await resp.json()
        # The same code a second time: refused (single use).
        status2, body2 = await _token(http, idp, code, verifier)
    assert status2 == 400 and body2["error"] == "invalid_grant"
    header = jwt.get_unverified_header(str(body["id_token"]))
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        str(body["id_token"]), jwt.PyJWK(key).key, algorithms=["RS256"], audience="rp", issuer=idp
    )
    assert claims["pid"] == PERSON.pid and claims["name"] == PERSON.name
    assert claims["acr"] == "idporten-loa-substantial" and claims["amr"] == ["TestID"]
    assert claims["nonce"] == "n-1" and claims["sub"] != PERSON.pid


async def test_wrong_verifier_and_wrong_secret_are_refused(idp: str) -> None:
    verifier, challenge = _pkce()
    async with aiohttp.ClientSession() as http:
        code = await _code(http, idp, challenge)
        status, body = await _token(http, idp, code, verifier, secret="wrong-secret")
        assert (status, body["error"]) == (401, "invalid_client")
        code = await _code(http, idp, challenge)
        status, body = await _token(http, idp, code, secrets.token_urlsafe(48))
        assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "over",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"redirect_uri": "http://evil.example/cb"},
        {"client_id": "unknown"},
        {"scope": "profile"},
        {"state": ""},
    ],
)
async def test_bad_authorization_requests_never_redirect(idp: str, over: dict[str, str]) -> None:
    _, challenge = _pkce()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            idp + "authorize", params=_authz(challenge, **over), allow_redirects=False
        ) as resp,
    ):
        assert resp.status == 400
        assert "Location" not in resp.headers


async def test_non_synthetic_person_is_refused(idp: str) -> None:
    _, challenge = _pkce()
    form = {k: v for k, v in _authz(challenge).items()}
    form.update(pid="01019012345", name="Ekte Person")
    async with (
        aiohttp.ClientSession() as http,
        http.post(idp + "authorize", data=form, allow_redirects=False) as resp,
    ):
        assert resp.status == 400


async def test_portal_refuses_a_callback_with_a_foreign_state(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        async with http.get(s.portal_url + "logg-inn", allow_redirects=False) as resp:
            assert resp.status == 302
        async with http.get(
            s.portal_url + "callback", params={"code": "x", "state": "forged"}
        ) as resp:
            assert resp.status == 400
            assert "ukjent tilstand" in await resp.text()
        async with http.get(s.portal_url + "oppslag", allow_redirects=False) as resp:
            assert resp.status == 303  # still not logged in


async def test_portal_login_rotates_the_session_id(portal_stack: PortalStack) -> None:
    from portal.conftest import login

    s = portal_stack
    async with browser_session() as http:
        async with http.get(s.portal_url + "logg-inn", allow_redirects=False):
            pass
        before = next(c.value for c in http.cookie_jar if c.key == "kjr_portal")
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        after = next(c.value for c in http.cookie_jar if c.key == "kjr_portal")
    assert before != after

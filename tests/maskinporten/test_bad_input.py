"""Bad requests get a 4xx JSON error body, never a 500, and the server keeps serving."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from kjoretoyregister.maskinporten.testing import RunningMaskinporten

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def still_serving(http: aiohttp.ClientSession, mp: RunningMaskinporten) -> None:
    async with http.get(mp.issuer + ".well-known/oauth-authorization-server") as resp:
        assert resp.status == 200


def token_form(assertion: str) -> bytes:
    return f"grant_type={JWT_BEARER}&assertion={assertion}".encode()


def forged(header: bytes, payload: bytes) -> bytes:
    """A form whose assertion has these raw JSON header and payload and a junk signature."""
    return token_form(f"{_b64(header)}.{_b64(payload)}.x")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        # -- transport-level form problems
        (b'{"grant_type": "x"}', "application/json", 400, "invalid_request"),
        (b"grant_type=x", "text/plain", 400, "invalid_request"),
        (b"", None, 400, "invalid_request"),
        (b"grant_type=%ff%fe&assertion=x", FORM, 400, "invalid_request"),
        (b"\xff\xfe\xfd", FORM, 400, "invalid_request"),
        (b"&&&===", FORM, 400, "invalid_request"),
        (token_form("a.b.c") + f"&grant_type={JWT_BEARER}".encode(), FORM, 400, "invalid_request"),
        (b"&".join(b"p%d=1" % i for i in range(50)), FORM, 400, "invalid_request"),
        # -- parameters
        (b"assertion=a.b.c", FORM, 400, "invalid_request"),
        (b"grant_type=client_credentials&assertion=a.b.c", FORM, 400, "unsupported_grant_type"),
        (b"grant_type=authorization_code&code=x", FORM, 400, "unsupported_grant_type"),
        (f"grant_type={JWT_BEARER}".encode(), FORM, 400, "invalid_request"),
        (token_form(""), FORM, 400, "invalid_request"),
        # -- assertions that are not JWTs
        (token_form("not-a-jwt"), FORM, 400, "invalid_request"),
        (token_form("a.b"), FORM, 400, "invalid_request"),
        (token_form("a.b.c.d.e"), FORM, 400, "invalid_request"),
        (token_form("%24%24.%25%25.x"), FORM, 400, "invalid_request"),
        (forged(b"not json", b"{}"), FORM, 400, "invalid_request"),
        (forged(b"[1,2]", b"{}"), FORM, 400, "invalid_request"),
        (forged(b"{}", b"42"), FORM, 400, "invalid_request"),
        (token_form("a" * 40_000 + ".b.c"), FORM, 400, "invalid_request"),
        # -- header and claim fields of the wrong type
        (forged(b"{}", b"{}"), FORM, 400, "invalid_grant"),
        (forged(b'{"alg":["RS256"]}', b"{}"), FORM, 400, "invalid_grant"),
        (forged(b'{"alg":"RS256","kid":5}', b'{"iss":"x"}'), FORM, 400, "invalid_grant"),
        (forged(b'{"alg":"RS256","kid":"k"}', b'{"iss":[1]}'), FORM, 400, "invalid_request"),
    ],
)
async def test_malformed_token_requests(
    body: bytes,
    content_type: str | None,
    status: int,
    error: str,
    http: aiohttp.ClientSession,
    mp: RunningMaskinporten,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with http.post(mp.token_url, data=body, headers=headers) as resp:
        assert resp.status == status, await resp.text()
        assert resp.content_type == "application/json"
        answer: dict[str, Any] = await resp.json()
    assert answer["error"] == error
    assert "MP-" in answer["error_description"]
    await still_serving(http, mp)


async def test_multipart_form_is_not_accepted(
    http: aiohttp.ClientSession, mp: RunningMaskinporten
) -> None:
    """Digdir's token endpoint takes application/x-www-form-urlencoded only."""
    form = aiohttp.FormData({"grant_type": JWT_BEARER, "assertion": "a.b.c"})
    form.add_field("file", b"x", filename="x.bin")
    async with http.post(mp.token_url, data=form) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_oversized_body_is_413_json(
    http: aiohttp.ClientSession, mp: RunningMaskinporten
) -> None:
    body = b"grant_type=x&assertion=" + b"a" * 200_000
    async with http.post(mp.token_url, data=body, headers={"Content-Type": FORM}) as resp:
        assert resp.status == 413
        assert resp.content_type == "application/json"
        assert (await resp.json())["error"] == "invalid_request"
    await still_serving(http, mp)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "token", 405), ("PUT", "jwk", 405), ("GET", "nope", 404), ("GET", "authorize", 404)],
)
async def test_wrong_method_or_path_is_json(
    method: str, path: str, status: int, http: aiohttp.ClientSession, mp: RunningMaskinporten
) -> None:
    async with http.request(method, mp.issuer + path) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        assert set(await resp.json()) == {"error", "error_description"}

"""Non-functional errors: auth, bad requests, unknown paths, size limits, server faults.

Every one of them answers ``{"svvguid", "status", "feilmelding"}`` with the same id in the
``Svvguid`` header, and none of them stops the server.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, ClassVar

import pytest

from kjoretoyregister.config import SvvSettings
from kjoretoyregister.svv.server import V2, create_app

pytestmark = pytest.mark.timeout(60)


async def assert_error(response: Any, status: int, needle: str = "") -> dict[str, Any]:
    """The response is an svvguid error body with this status (and mentions needle)."""
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"svvguid", "status", "feilmelding"}
    assert body["status"] == status
    assert body["svvguid"] == response.headers["Svvguid"]
    uuid.UUID(body["svvguid"])
    assert needle in body["feilmelding"]
    return body


class TestAuth:
    async def test_no_credentials(self, svv_client, svv_api) -> None:
        response = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=[])
        await assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="')

    @pytest.mark.parametrize(
        ("name", "password"),
        [("oppslag", "feil-passord"), ("ukjent", "oppslag-passord"), ("oppslag", "")],
    )
    async def test_wrong_credentials(self, svv_client, svv_api, name, password) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.basic_auth(name, password)
        )
        await assert_error(response, 401)

    @pytest.mark.parametrize("header", ["Basic !!!", "Bearer abc.def.ghi", "Basic", "Digest x"])
    async def test_malformed_authorization(self, svv_client, svv_api, header) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE, json=[], headers={"Authorization": header}
        )
        await assert_error(response, 401)

    @pytest.mark.parametrize(
        ("user", "method", "path"),
        [
            ("SOK", "POST", "bulk/kjennemerke"),
            ("SOK", "GET", "bulk/understellsnummer/SISDINKY45727043"),
            ("OPPSLAG", "GET", "sok/kjennemerke?kjennemerke=CU11297"),
            ("OPPSLAG", "GET", "/_sim/faults"),
            ("SOK", "POST", "/_sim/outage?on=1"),
        ],
    )
    async def test_missing_role_is_403(self, svv_client, svv_api, user, method, path) -> None:
        url = path if path.startswith("/_sim") else f"{V2}/{path}"
        response = await svv_client.request(method, url, json=[], headers=getattr(svv_api, user))
        await assert_error(response, 403)

    async def test_user_without_roles_may_do_everything(self, svv_client, svv_api) -> None:
        bulk = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.ALL)
        sok = await svv_client.get(
            svv_api.SOK_PATH + "kjennemerke", params={"kjennemerke": "CU11297"}, headers=svv_api.ALL
        )
        sim = await svv_client.get("/_sim/faults", headers=svv_api.ALL)
        assert (bulk.status, sok.status, sim.status) == (200, 200, 200)

    async def test_no_users_means_nobody_gets_in(self, svv_client_factory, svv_api) -> None:
        client = await svv_client_factory(users=[])
        response = await client.post(svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.ALL)
        await assert_error(response, 401)

    def test_bad_user_spec_is_refused_at_build(self, svv_register) -> None:
        with pytest.raises(ValueError, match="NOROLE"):
            create_app(svv_register, SvvSettings(users=["a:b:NOROLE"]))


class TestBadRequests:
    @pytest.mark.parametrize(
        ("body", "needle"),
        [
            (b"", "Tom"),
            (b"[{", "Ugyldig JSON"),
            (b"\xff\xfe", "Ugyldig JSON"),
            (b'{"kjennemerke": "CU11297"}', "JSON-liste"),
            (b"null", "JSON-liste"),
            (b'["CU11297"]', "indeks 0"),
            (b'[{"kjennemerke": null}]', "mangler"),
            (b'[{"kjennemerke": ["CU11297"]}]', "tekst"),
            (b'[{"kjennemerke": ""}]', "tom"),
            (b'[{"kjennemerke": "CU11297", "dtg": "2018-11-15T23:00:00"}]', "tidssone"),
            ('[{"kjennemerke": "CU11297", "dtg": "i går"}]'.encode(), "dtg"),
            (b'[{"kjennemerke": "CU11297", "dtg": {}}]', "dtg"),
        ],
    )
    async def test_bad_bulk_bodies(self, svv_client, svv_api, body, needle) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            data=body,
            headers={**svv_api.OPPSLAG, "Content-Type": "application/json"},
        )
        await assert_error(response, 400, needle)

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
    async def test_wrong_content_type_is_415(self, svv_client, svv_api, content_type) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            data=b'[{"kjennemerke": "CU11297"}]',
            headers={**svv_api.OPPSLAG, "Content-Type": content_type},
        )
        await assert_error(response, 415, "application/json")

    async def test_json_with_charset_is_fine(self, svv_client, svv_api) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            data=b'[{"kjennemerke": "CU11297"}]',
            headers={**svv_api.OPPSLAG, "Content-Type": "application/json; charset=UTF-8"},
        )
        assert response.status == 200

    async def test_body_too_large_is_413(self, svv_client_factory, svv_api) -> None:
        client = await svv_client_factory(max_body_bytes=2048)
        body = [{"kjennemerke": "CU11297"}] * 200
        response = await client.post(svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.OPPSLAG)
        await assert_error(response, 413, "2048")


class TestRouting:
    async def test_unknown_path_is_404(self, svv_client, svv_api) -> None:
        response = await svv_client.get(V2 + "/bulk/prkid", headers=svv_api.ALL)
        await assert_error(response, 404)

    async def test_wrong_method_is_405_with_allow(self, svv_client, svv_api) -> None:
        response = await svv_client.get(svv_api.BULK_KJENNEMERKE, headers=svv_api.ALL)
        await assert_error(response, 405)
        assert "POST" in response.headers["Allow"]

    async def test_svvguid_is_on_successes_and_echoed(self, svv_client, svv_api) -> None:
        mine = "a1b2c3d4-0000-4000-8000-123456789abc"
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE, json=[], headers={**svv_api.OPPSLAG, "Svvguid": mine}
        )
        assert response.headers["Svvguid"] == mine
        other = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.OPPSLAG)
        uuid.UUID(other.headers["Svvguid"])
        odd = await svv_client.post(
            svv_api.BULK_KJENNEMERKE, json=[], headers={**svv_api.OPPSLAG, "Svvguid": "<x>"}
        )
        assert odd.headers["Svvguid"] != "<x>"


class _BrokenRegister:
    """A stand-in whose lookups fail, to see a bug become a 500 (not a dead server)."""

    meta: ClassVar[dict[str, Any]] = {"vehicles": 1}

    def many_by_kjennemerke(self, items: Any) -> Any:
        raise RuntimeError("boom")


async def test_unexpected_exception_is_500_and_server_survives(aiohttp_free_client, svv_api):
    client = await aiohttp_free_client(_BrokenRegister())
    for _ in range(3):
        response = await client.post(
            svv_api.BULK_KJENNEMERKE, json=[{"kjennemerke": "CU11297"}], headers=svv_api.ALL
        )
        body = await assert_error(response, 500)
        assert "boom" not in body["feilmelding"]


@pytest.fixture
async def aiohttp_free_client(svv_api):
    from aiohttp.test_utils import TestClient, TestServer

    clients = []

    async def make(register: Any) -> TestClient[Any, Any]:
        settings = SvvSettings(users=list(svv_api.USERS))
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(register, settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_garbage_burst_then_a_good_request(svv_client, svv_api) -> None:
    """Bad input of every kind, then a normal request: the server still answers it."""
    as_json = {"Content-Type": "application/json"}
    garbage: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", svv_api.BULK_KJENNEMERKE, {"data": b"\x00" * 1000}),
        ("POST", svv_api.BULK_KJENNEMERKE, {"data": b"[" * 5000, "headers": as_json}),
        ("POST", svv_api.BULK_KJENNEMERKE, {"data": b'{"a":' * 100, "headers": as_json}),
        ("POST", svv_api.BULK_KJENNEMERKE, {"json": [{"kjennemerke": "\u0000\ud7ff" * 5}]}),
        ("POST", svv_api.BULK_KUID, {"json": [{"kuid": 1e308}]}),
        ("POST", svv_api.BULK_KUID, {"json": [[[[[]]]]]}),
        ("GET", svv_api.BULK_VIN + "%00%ff", {}),
        ("GET", svv_api.BULK_VIN + "A" * 5000, {}),
        ("GET", svv_api.SOK_PATH + "kjennemerke?kjennemerke=%FF%FE", {}),
        ("GET", svv_api.SOK_PATH + "kunde?eiertype=PERSON&fornavn=" + "x" * 5000, {}),
        ("GET", svv_api.SOK_PATH + "eiernavn?navn=%00&fodselsdato=9999-99-99", {}),
        ("GET", svv_api.SOK_PATH + "understellsnummer?understellsnummer=***", {}),
        ("DELETE", svv_api.BULK_KJENNEMERKE, {}),
        ("POST", "/_sim/faults", {"data": b"[1,2]", "headers": as_json}),
    ]
    for method, path, kwargs in garbage * 3:
        headers = {**svv_api.ALL, **kwargs.pop("headers", {})}
        response = await svv_client.request(method, path, headers=headers, **kwargs)
        # a strange plate is just unknown (200); everything else is a 4xx, never a 5xx
        assert response.status < 500, (method, path[:80], response.status)
        await response.read()
    good = await svv_client.post(
        svv_api.BULK_KJENNEMERKE, json=[{"kjennemerke": "CU11297"}], headers=svv_api.ALL
    )
    assert good.status == 200
    assert (await good.json())[0]["kjoretoy"]["kjoretoyId"]["kjennemerke"] == "CU 11297"


async def test_unparseable_http_is_400_and_its_request_line_is_not_logged(
    svv_client, svv_api, caplog
) -> None:
    """aiohttp itself refuses raw UTF-8 in a URL; its log must not carry the name it held."""
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    reader, writer = await asyncio.open_connection(svv_client.host, svv_client.port)
    line = f"GET {svv_api.SOK_PATH}eiernavn?navn=MØLLERSEN HTTP/1.1\r\nHost: x\r\n\r\n"
    writer.write(line.encode())
    await writer.drain()
    answer = await reader.read(65536)
    writer.close()
    await writer.wait_closed()
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:300]
    assert "malformed HTTP request" in caplog.text
    assert "MØLLERSEN" not in caplog.text and "M\\xc3\\x98LLERSEN" not in caplog.text
    good = await svv_client.get(
        svv_api.SOK_PATH + "eiernavn", params={"navn": "MØLLER BIL AS"}, headers=svv_api.SOK
    )
    assert good.status == 200

"""The admin REST API over a real socket: auth, end-to-end setup, errors, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.config import KonfigSettings
from kjoretoyregister.konfig import privileges
from kjoretoyregister.konfig.admin_api import (
    ADMIN_API_PREFIX,
    MAX_BODY_BYTES,
    create_admin_app,
    create_app,
)
from kjoretoyregister.konfig.authz import Authorizer, Outcome

from .helpers import ANNEN_ORGNR, KOMMUNE_ORGNR, LEVERANDOR_ORGNR, random_id

Factory = sessionmaker[Session]
TOKEN = "ola-sitt-lange-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
P = ADMIN_API_PREFIX


def _settings() -> KonfigSettings:
    return KonfigSettings(
        admin_tokens=[SecretStr(f"ola:{TOKEN}"), SecretStr("kari:et-annet-langt-token")]
    )


@pytest.fixture
async def client(session_factory: Factory) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(session_factory, _settings()))) as client:
        yield client


async def _call(
    client: TestClient[Any, Any], method: str, path: str, status: int, **kwargs: Any
) -> Any:
    headers = kwargs.pop("headers", AUTH)
    response = await client.request(method, P + path, headers=headers, **kwargs)
    text = await response.text()
    assert response.status == status, (method, path, text)
    if response.status == 204:
        return None
    return await response.json()


def _assert_fiks_error(body: dict[str, Any], status: int, path: str) -> None:
    assert body["status"] == status
    assert set(body) >= {"timestamp", "status", "error", "errorId", "path", "message", "errorCode"}
    assert body["path"] == path
    assert isinstance(body["timestamp"], int) and len(body["errorId"]) == 36


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer feil-token-som-er-langt-nok"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
async def test_requests_without_a_valid_admin_token_get_401(
    client: TestClient[Any, Any], headers: dict[str, str]
) -> None:
    response = await client.get(P + "/orgs", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _assert_fiks_error(await response.json(), 401, P + "/orgs")


async def test_integration_credentials_are_not_admin_credentials(
    client: TestClient[Any, Any],
) -> None:
    org = await _call(client, "POST", "/orgs", 201, json={"navn": "K", "orgnr": KOMMUNE_ORGNR})
    creds = await _call(
        client, "POST", "/integrations", 201,
        json={"fiks_org_id": org["id"], "navn": "Sak", "autorisert_orgnr": LEVERANDOR_ORGNR},
    )  # fmt: skip
    for headers in (
        {"Authorization": f"Bearer {creds['integrasjon_passord']}"},
        {
            "IntegrasjonId": creds["integrasjon_id"],
            "IntegrasjonPassord": creds["integrasjon_passord"],
        },
    ):
        assert (await client.get(P + "/orgs", headers=headers)).status == 401


async def test_no_configured_tokens_refuses_everything(session_factory: Factory) -> None:
    app = create_app(session_factory, KonfigSettings())
    async with TestClient(TestServer(app)) as client:
        assert (await client.get(P + "/orgs", headers=AUTH)).status == 401
        assert (await client.get(P + "/openapi.json")).status == 200


# -- the whole flow -------------------------------------------------------------------------


async def test_end_to_end_setup_rotation_and_delete(
    client: TestClient[Any, Any], session_factory: Factory
) -> None:
    org = await _call(
        client, "POST", "/orgs", 201, json={"navn": "Testkommune", "orgnr": KOMMUNE_ORGNR}
    )
    org_id = org["id"]
    activation = await _call(client, "POST", f"/orgs/{org_id}/activate", 200)
    assert activation["aktiv"] is True
    response = await client.post(
        P + "/integrations",
        headers=AUTH,
        json={
            "fiks_org_id": org_id,
            "navn": "Sak",
            "autorisert_orgnr": LEVERANDOR_ORGNR,
            "beskrivelse": "saksbehandling",
        },
    )
    assert response.status == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = await response.json()
    integration, password = created["integrasjon_id"], created["integrasjon_passord"]
    assert created["integrasjon"]["navn"] == "Sak"
    assert "password_hash" not in created["integrasjon"]
    grant = await _call(
        client, "POST", f"/integrations/{integration}/grants", 201,
        json={"fiks_org_id": org_id, "privilege": privileges.OPPSLAG, "purpose_required": True},
    )  # fmt: skip
    assert grant["purpose_required"] is True

    authz = Authorizer(session_factory)

    def check(pw: str) -> Outcome:
        return authz.check(
            integrasjon_id=integration,
            passord=pw,
            consumer_orgnr=LEVERANDOR_ORGNR,
            fiks_org_id=org_id,
            privilege=privileges.OPPSLAG,
        ).outcome

    assert check(password) is Outcome.OK
    overview = await _call(client, "GET", f"/orgs/{org_id}", 200)
    assert [i["id"] for i in overview["integrasjoner"]] == [integration]
    assert overview["tilganger"][0]["privilege"] == privileges.OPPSLAG

    rotated = await _call(client, "POST", f"/integrations/{integration}/new-password", 200)
    assert set(rotated) == {"integrasjon_id", "integrasjon_passord"}
    assert check(password) is Outcome.INTEGRATION_AUTH_FAILED
    assert check(rotated["integrasjon_passord"]) is Outcome.OK

    await _call(
        client, "DELETE", f"/integrations/{integration}/grants/{org_id}/{privileges.OPPSLAG}", 204
    )
    assert check(rotated["integrasjon_passord"]) is Outcome.NO_ACCESS
    deleted = await _call(client, "DELETE", f"/integrations/{integration}", 200)
    assert deleted["deleted_at"] is not None
    assert check(rotated["integrasjon_passord"]) is Outcome.INTEGRATION_AUTH_FAILED

    log = await _call(client, "GET", "/log?limit=20", 200)
    assert {e["actor"] for e in log} == {"api:ola"}
    assert [e["action"] for e in reversed(log)] == [
        "org.create",
        "service.activate",
        "integration.create",
        "grant.add",
        "integration.new_password",
        "grant.revoke",
        "integration.delete",
    ]
    by_target = await _call(client, "GET", f"/log?target={integration}", 200)
    assert len(by_target) == 5
    assert (await _call(client, "GET", "/orgs", 200))[0]["navn"] == "Testkommune"
    listed = await _call(client, "GET", f"/integrations?org={org_id}&include_deleted=true", 200)
    assert len(listed) == 1
    detail = await _call(client, "GET", f"/integrations/{integration}", 200)
    assert detail["tilganger"] == []
    assert await _call(client, "GET", f"/integrations/{integration}/grants", 200) == []
    deactivated = await _call(client, "POST", f"/orgs/{org_id}/deactivate", 200)
    assert deactivated["aktiv"] is False


# -- errors ---------------------------------------------------------------------------------


async def test_error_statuses_codes_and_no_partial_writes(client: TestClient[Any, Any]) -> None:
    org = await _call(client, "POST", "/orgs", 201, json={"navn": "K", "orgnr": KOMMUNE_ORGNR})
    org_id = org["id"]
    body = {"fiks_org_id": org_id, "navn": "Sak", "autorisert_orgnr": LEVERANDOR_ORGNR}
    integration = (await _call(client, "POST", "/integrations", 201, json=body))["integrasjon_id"]
    cases: list[tuple[str, str, int, str, Any]] = [
        ("POST", "/orgs", 409, "KJR-KONFIG-FINNES", {"navn": "K", "orgnr": ANNEN_ORGNR}),
        ("POST", "/orgs", 400, "KJR-KONFIG-UGYLDIG", {"navn": "X", "orgnr": "123456789"}),
        ("POST", "/orgs", 400, "KJR-ADMIN-BODY", {"navn": "X"}),
        ("POST", "/orgs", 400, "KJR-ADMIN-BODY", {"navn": "X", "orgnr": KOMMUNE_ORGNR, "y": 1}),
        ("POST", "/orgs", 400, "KJR-ADMIN-BODY", [1, 2]),
        ("GET", f"/orgs/{random_id()}", 404, "KJR-KONFIG-IKKE-FUNNET", None),
        ("GET", "/orgs/not-a-uuid", 400, "KJR-KONFIG-UGYLDIG", None),
        ("POST", f"/orgs/{org_id}/deactivate", 409, "KJR-KONFIG-IKKE-AKTIVERT", None),
        (
            "POST", f"/integrations/{integration}/grants", 409, "KJR-KONFIG-IKKE-AKTIVERT",
            {"fiks_org_id": org_id, "privilege": privileges.OPPSLAG},
        ),
        (
            "POST", f"/integrations/{integration}/grants", 400, "KJR-KONFIG-UGYLDIG",
            {"fiks_org_id": org_id, "privilege": "ALT"},
        ),
        (
            "DELETE", f"/integrations/{integration}/grants/{org_id}/{privileges.EIERSOK}", 404,
            "KJR-KONFIG-IKKE-FUNNET", None,
        ),
        ("GET", "/log?limit=x", 400, "KJR-ADMIN-QUERY", None),
        ("GET", "/log?limit=0", 400, "KJR-KONFIG-UGYLDIG", None),
        ("GET", "/nowhere", 404, "KJR-ADMIN-HTTP-404", None),
        ("PUT", "/orgs", 405, "KJR-ADMIN-HTTP-405", None),
    ]  # fmt: skip
    for method, path, status, code, body in cases:
        error = await _call(client, method, path, status, json=body)
        _assert_fiks_error(error, status, P + path.split("?")[0])
        assert error["errorCode"] == code, (method, path, error)
    bad_json = await client.post(P + "/orgs", headers=AUTH, data=b"{not json")
    assert bad_json.status == 400
    assert (await bad_json.json())["errorCode"] == "KJR-ADMIN-JSON"
    too_big = await client.post(P + "/orgs", headers=AUTH, data=b"x" * (MAX_BODY_BYTES + 1))
    assert too_big.status == 413
    assert (await too_big.json())["status"] == 413

    await _call(client, "DELETE", f"/integrations/{integration}", 200)
    gone = await _call(client, "POST", f"/integrations/{integration}/new-password", 409)
    assert gone["errorCode"] == "KJR-KONFIG-SLETTET"
    # none of the failures above wrote anything
    log = await _call(client, "GET", "/log", 200)
    assert [e["action"] for e in log] == ["integration.delete", "integration.create", "org.create"]


# -- OpenAPI and mounting -------------------------------------------------------------------


async def test_openapi_document_is_valid_and_covers_every_route(
    client: TestClient[Any, Any], session_factory: Factory
) -> None:
    response = await client.get(P + "/openapi.json")  # no token needed
    assert response.status == 200
    document = await response.json()
    validate(document)
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    sub = create_admin_app(session_factory, _settings())
    served = {
        (route.method, P + route.resource.canonical)
        for route in sub.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert served == documented
    assert "IntegrationCreated" in document["components"]["schemas"]


async def test_mounts_as_a_sub_app_next_to_other_routes(session_factory: Factory) -> None:
    """The portal/demo mount it with add_subapp; the parent keeps its own routes."""
    parent = web.Application()

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="hei")

    parent.router.add_get("/", hello)
    parent.add_subapp(ADMIN_API_PREFIX, create_admin_app(session_factory, _settings()))
    async with TestClient(TestServer(parent)) as client:
        assert await (await client.get("/")).text() == "hei"
        assert (await client.get(P + "/orgs", headers=AUTH)).status == 200
        assert (await client.get(P + "/orgs")).status == 401

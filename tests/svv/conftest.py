"""Fixtures for the SVV simulator tests: one small generated register per session, a client
factory for the HTTP app over a real socket, and a checker against SVV's own OpenAPI schemas.

Fixture names start with ``svv_`` so that the register tests (svv-data) can use them too.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from kjoretoyregister.config import SvvSettings
from kjoretoyregister.svv.generate import generate
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.server import V2, create_app

SPEC_PATH = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "svv-reference"
    / "kjoretoysok-v2.0-openapi.json"
)

SVV_VEHICLES = 3000
SVV_SEED = 20240611


def basic_auth(name: str, password: str) -> dict[str, str]:
    """An ``Authorization: Basic …`` header."""
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class SvvApi:
    """Paths and credentials of the test apps (a fixture, so test modules need no imports)."""

    # The users every test app has: one per role, plus one with all roles.
    # (header dicts: aiohttp 3.14 deprecates BasicAuth, and warnings are errors here)
    OPPSLAG = basic_auth("oppslag", "oppslag-passord")
    SOK = basic_auth("sok", "sok-passord")
    ADMIN = basic_auth("admin", "admin-passord")
    ALL = basic_auth("fiks", "fiks-passord")
    USERS = (
        "oppslag:oppslag-passord:KJORETOYOPPSLAG",
        "sok:sok-passord:KJORETOYSOK",
        "admin:admin-passord:SIMULATOR",
        "fiks:fiks-passord",
    )
    basic_auth = staticmethod(basic_auth)
    BULK_KJENNEMERKE = V2 + "/bulk/kjennemerke"
    BULK_KUID = V2 + "/bulk/kuid"
    BULK_VIN = V2 + "/bulk/understellsnummer/"
    SOK_PATH = V2 + "/sok/"


@pytest.fixture(scope="session")
def svv_api() -> type[SvvApi]:
    return SvvApi


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def svv_register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small register (with the sisdinky vehicles), generated once per test session."""
    path = tmp_path_factory.mktemp("svv") / "register.sqlite"
    generate(path, vehicles=SVV_VEHICLES, seed=SVV_SEED)
    return path


@pytest.fixture(scope="session")
def svv_register(svv_register_path: Path) -> Iterator[Register]:
    register = Register(svv_register_path)
    yield register
    register.close()


@pytest.fixture
async def svv_client_factory(svv_register: Register) -> AsyncIterator[MakeClient]:
    """``await make(**svv_settings)`` → a started TestClient on a real loopback socket."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        settings = SvvSettings(**{"users": list(SvvApi.USERS), **overrides})
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(svv_register, settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def svv_client(svv_client_factory: MakeClient) -> TestClient[Any, Any]:
    """A client for an app with default settings."""
    return await svv_client_factory()


class SchemaChecker:
    """Validate bodies against the schemas of SVV's Kjøretøysøk v2.0 OpenAPI document.

    Stricter than the document: every object schema is closed (``additionalProperties:
    false``), so a misspelt or invented field fails too; writeOnly properties must be absent
    from responses; formats (date, date-time) are checked; and ``null`` is refused anywhere.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        components = copy.deepcopy(spec["components"])
        for schema in components["schemas"].values():
            if schema.get("type") == "object" and "properties" in schema:
                schema["additionalProperties"] = False
        self._components = components

    def check(self, instance: Any, schema_name: str) -> None:
        schema = {"components": self._components, "$ref": f"#/components/schemas/{schema_name}"}
        validator = OAS30ReadValidator(schema, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        messages = [f"{list(e.absolute_path)}: {e.message}" for e in errors[:10]]
        assert not errors, f"{schema_name} invalid:\n" + "\n".join(messages)
        nulls = list(_null_paths(instance, []))
        assert not nulls, f"null values at {nulls[:10]}"

    def check_bulk(self, body: Any) -> None:
        """A bulk answer: a JSON array of ``KjoretoyResponse``."""
        assert isinstance(body, list)
        for item in body:
            self.check(item, "KjoretoyResponse")


def _null_paths(value: Any, path: list[Any]) -> Iterator[list[Any]]:
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _null_paths(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _null_paths(item, [*path, index])


@pytest.fixture(scope="session")
def svv_schema() -> SchemaChecker:
    return SchemaChecker(orjson.loads(SPEC_PATH.read_bytes()))

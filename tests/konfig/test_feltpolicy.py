"""Field policies on grants: presets, custom lists, CLI, admin API, and what reaches authz.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture). The gateway side (what a caller
receives under each preset) is tested through the real stack in tests/gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from kjoretoyregister.cli import app
from kjoretoyregister.config import KonfigSettings
from kjoretoyregister.konfig import feltpolicy, grant_policy, privileges
from kjoretoyregister.konfig.admin_api import ADMIN_API_PREFIX, create_app
from kjoretoyregister.konfig.authz import Authorizer, Outcome
from kjoretoyregister.konfig.feltpolicy import FeltpolicyError
from kjoretoyregister.konfig.models import AdminHendelse, Tilgang

from .helpers import LEVERANDOR_ORGNR, Setup, seed

Factory = sessionmaker[Session]
runner = CliRunner()
TOKEN = "ola-sitt-lange-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- presets and custom lists ------------------------------------------------------------------


def test_every_preset_names_only_schema_paths() -> None:
    known_k, known_c = feltpolicy.known_paths()
    ids = [p.id for p in feltpolicy.presets()]
    assert {"parkering@1", "tauing@1", "teknisk@1"} <= set(ids)
    for policy in feltpolicy.presets():
        assert set(policy.kjoretoy) <= known_k, policy.id
        assert set(policy.kunde) <= known_c, policy.id
        assert feltpolicy.parse_id(policy.id) == policy


def test_parkering_keeps_no_fnr_birth_date_or_technical_data() -> None:
    policy = feltpolicy.preset("parkering")
    paths = policy.kjoretoy + policy.kunde
    assert not [p for p in paths if "fodsels" in p or p.startswith("godkjenning")]
    assert "eierskap.eier.adresse" in policy.kjoretoy


@pytest.mark.parametrize(
    ("call", "valid"),
    [
        (lambda: feltpolicy.preset("nope"), "valid presets: parkering, tauing, teknisk"),
        (lambda: feltpolicy.preset("parkering", 99), "valid versions: 1"),
        (lambda: feltpolicy.parse_id("parkering"), "'parkering@1'"),
        (lambda: feltpolicy.custom(["eierskap.eier.skonummer"], []), "admin feltpolicy --felter"),
        (lambda: feltpolicy.custom([], []), "at least one field path"),
        (lambda: grant_policy.resolve("parkering", None, ["kjennemerke"]), "not both"),
        (lambda: grant_policy.resolve(None, 1), "a version needs a preset"),
    ],
)
def test_bad_policies_say_what_is_valid(call: Any, valid: str) -> None:
    with pytest.raises(FeltpolicyError) as caught:
        call()
    assert valid in caught.value.message
    assert caught.value.error_code == "KJR-KONFIG-FELTPOLICY"


def test_custom_id_is_stable_and_order_free() -> None:
    a = feltpolicy.custom(["registrering", "kjoretoyId.kjennemerke"], ["personEnhet.adresse"])
    b = feltpolicy.custom(
        [" kjoretoyId.kjennemerke", "registrering", "registrering"], ["personEnhet.adresse"]
    )
    c = feltpolicy.custom(["registrering"], ["personEnhet.adresse"])
    assert a.id == b.id != c.id
    assert a.id.startswith("egendefinert@") and len(a.id) == len("egendefinert@") + 12
    stored = feltpolicy.from_stored(*a.to_stored())
    assert stored is not None and (stored.kjoretoy, stored.kunde) == (a.kjoretoy, a.kunde)


def test_unknown_stored_policy_fails_closed() -> None:
    """A row naming a preset this release does not know keeps nothing, not everything."""
    policy = feltpolicy.from_stored("ukjent@7", None)
    assert policy is not None and policy.kjoretoy == () and policy.kunde == ()
    assert feltpolicy.from_stored(None, None) is None


# -- the grant row, the admin log and authz ---------------------------------------------------


def _decision_policy(factory: Factory, setup: Setup) -> str | None:
    decision = Authorizer(factory).check(
        integrasjon_id=setup.integration_id,
        passord=setup.password,
        consumer_orgnr=LEVERANDOR_ORGNR,
        fiks_org_id=setup.org_id,
        privilege=privileges.OPPSLAG,
    )
    assert decision.outcome is Outcome.OK
    return decision.feltpolicy.id if decision.feltpolicy is not None else None


def _log(factory: Factory) -> list[dict[str, Any]]:
    with factory() as s:
        rows = s.scalars(
            select(AdminHendelse).where(AdminHendelse.action == "grant.feltpolicy")
        ).all()
        return [r.details for r in rows]


def test_set_reaches_authz_and_is_logged(session_factory: Factory) -> None:
    setup = seed(session_factory)
    assert _decision_policy(session_factory, setup) is None
    with session_factory.begin() as s:
        grant_policy.set_field_policy(
            s, setup.integration_id, setup.org_id, privileges.OPPSLAG,
            feltpolicy.preset("tauing"), actor="kari",
        )  # fmt: skip
    assert _decision_policy(session_factory, setup) == "tauing@1"
    custom = feltpolicy.custom(["kjennemerke"], [])
    with session_factory.begin() as s:
        grant_policy.set_field_policy(
            s, setup.integration_id, setup.org_id, privileges.OPPSLAG, custom, actor="kari"
        )
    assert _decision_policy(session_factory, setup) == custom.id
    with session_factory.begin() as s:
        grant_policy.set_field_policy(
            s, setup.integration_id, setup.org_id, privileges.OPPSLAG, None, actor="kari"
        )
    assert _decision_policy(session_factory, setup) is None
    log = _log(session_factory)
    assert [(d["before"], d["after"]) for d in log] == [
        (None, "tauing@1"),
        ("tauing@1", custom.id),
        (custom.id, None),
    ]
    assert log[1]["felter"] == {"kjoretoy": ["kjennemerke"], "kunde": []}


# -- CLI --------------------------------------------------------------------------------------


def _admin(url: str, *args: str) -> Any:
    return runner.invoke(app, ["admin", "--database-url", url, "--actor", "tester", *args])


def _grant_args(setup: Setup) -> list[str]:
    return [
        "grant", "feltpolicy", "--integration", setup.integration_id, "--org", setup.org_id,
        "--privilege", "oppslag",
    ]  # fmt: skip


def test_cli_sets_lists_and_clears(db_url: str, session_factory: Factory) -> None:
    setup = seed(session_factory)
    result = _admin(db_url, *_grant_args(setup), "--preset", "parkering", "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["feltpolicy"] == "parkering@1"
    result = _admin(db_url, *_grant_args(setup), "--felt", "kjennemerke", "--felt", "registrering")
    assert result.exit_code == 0 and "egendefinert@" in result.stdout
    listing = _admin(db_url, "grant", "list", "--json")
    assert listing.exit_code == 0, listing.output
    (listed,) = orjson.loads(listing.stdout)
    assert listed["feltpolicy"].startswith("egendefinert@")
    result = _admin(db_url, *_grant_args(setup), "--av")
    assert result.exit_code == 0 and "uendret" in result.stdout
    assert _decision_policy(session_factory, setup) is None
    shown = _admin(db_url, "feltpolicy", "parkering")
    assert shown.exit_code == 0 and "eierskap.eier.adresse" in shown.stdout
    presets = orjson.loads(_admin(db_url, "feltpolicy", "--json").stdout)
    assert {p["id"] for p in presets} >= {"parkering@1", "tauing@1", "teknisk@1"}
    paths = _admin(db_url, "feltpolicy", "--felter").stdout.splitlines()
    assert "--felt eierskap.eier.adresse" in paths and len(paths) > 100


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset", "nope"], "valid presets"),
        (["--felt", "ikke.et.felt"], "admin feltpolicy --felter"),
        (["--preset", "parkering", "--av"], "exactly one of"),
        ([], "exactly one of"),
        (["--preset", "parkering", "--versjon", "4"], "valid versions: 1"),
    ],
)
def test_cli_refusals_write_nothing(
    db_url: str, session_factory: Factory, extra: list[str], message: str
) -> None:
    setup = seed(session_factory)
    result = _admin(db_url, *_grant_args(setup), *extra)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _log(session_factory) == []
    with session_factory() as s:
        assert s.scalar(select(func.count()).where(Tilgang.feltpolicy.is_not(None))) == 0


def test_cli_no_such_grant(db_url: str, session_factory: Factory) -> None:
    setup = seed(session_factory)
    args = _grant_args(setup)
    args[args.index("oppslag")] = "eiersok"  # seeded with OPPSLAG only
    result = _admin(db_url, *args, "--preset", "parkering")
    assert result.exit_code != 0 and "has no" in result.output
    assert _log(session_factory) == []


# -- admin API --------------------------------------------------------------------------------


@pytest.fixture
async def client(session_factory: Factory) -> AsyncIterator[TestClient[Any, Any]]:
    settings = KonfigSettings(admin_tokens=[SecretStr(f"ola:{TOKEN}")])
    async with TestClient(TestServer(create_app(session_factory, settings))) as c:
        yield c


async def test_admin_api_put_get_and_errors(
    client: TestClient[Any, Any], session_factory: Factory
) -> None:
    setup = seed(session_factory)
    url = (
        f"{ADMIN_API_PREFIX}/integrations/{setup.integration_id}/grants/{setup.org_id}/"
        f"{privileges.OPPSLAG}/feltpolicy"
    )
    resp = await client.put(url, json={"preset": "parkering", "versjon": 1}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["feltpolicy"] == "parkering@1"
    assert _decision_policy(session_factory, setup) == "parkering@1"
    for bad, needle in (
        ({"preset": "nope"}, "valid presets"),
        ({"preset": "parkering", "felter": ["kjennemerke"]}, "not both"),
        ({"felter": ["ikke.et.felt"]}, "admin feltpolicy --felter"),
        ({"ukjent": 1}, "ukjent"),
    ):
        resp = await client.put(url, json=bad, headers=AUTH)
        body = await resp.json()
        assert resp.status == 400, (bad, body)
        assert needle in body["message"] and body["path"] == url
    assert _decision_policy(session_factory, setup) == "parkering@1"  # unchanged by refusals
    assert len(_log(session_factory)) == 1
    resp = await client.put(url, json={}, headers=AUTH)
    assert resp.status == 200 and (await resp.json())["feltpolicy"] is None
    resp = await client.put(url, json={}, headers={})
    assert resp.status == 401
    resp = await client.get(f"{ADMIN_API_PREFIX}/feltpolicy", headers=AUTH)
    presets = await resp.json()
    assert resp.status == 200
    parkering = next(p for p in presets if p["id"] == "parkering@1")
    assert parkering["kjoretoy"] == list(feltpolicy.preset("parkering").kjoretoy)

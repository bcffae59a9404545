"""`kjoretoyregister admin …`: the whole setup end to end, JSON output, clear failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from kjoretoyregister.cli import app
from kjoretoyregister.konfig import privileges
from kjoretoyregister.konfig.authz import Authorizer, Outcome
from kjoretoyregister.store.db import current_revision, head_revision

from .helpers import ANNEN_ORGNR, KOMMUNE_ORGNR, LEVERANDOR_ORGNR, random_id

Factory = sessionmaker[Session]
runner = CliRunner()


class Admin:
    """Runs `kjoretoyregister admin --database-url URL --actor tester …`."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = runner.invoke(
            app, ["admin", "--database-url", self.url, "--actor", "tester", *args]
        )
        if ok:
            assert result.exit_code == 0, (args, result.output)
        return result

    def json(self, *args: str) -> Any:
        return orjson.loads(self(*args, "--json").stdout)


@pytest.fixture
def admin(db_url: str) -> Admin:
    return Admin(db_url)


def _check(authz: Authorizer, integration: str, password: str, org: str) -> Outcome:
    return authz.check(
        integrasjon_id=integration,
        passord=password,
        consumer_orgnr=LEVERANDOR_ORGNR,
        fiks_org_id=org,
        privilege=privileges.OPPSLAG,
    ).outcome


def test_end_to_end_setup_then_rotate_and_delete(admin: Admin, session_factory: Factory) -> None:
    """org → activation → integration → grant gives OK; new password and delete bite at once."""
    org = admin.json("org", "create", "--navn", "Testkommune", "--orgnr", KOMMUNE_ORGNR)["id"]
    admin("service", "activate", org)
    creds = admin.json(
        "integration", "create", "--org", org, "--navn", "Sak",
        "--autorisert-orgnr", LEVERANDOR_ORGNR, "--beskrivelse", "saksbehandling",
    )  # fmt: skip
    assert set(creds) == {"integrasjon_id", "integrasjon_passord"}
    integration, password = creds["integrasjon_id"], creds["integrasjon_passord"]
    grant = admin.json(
        "grant", "add", "--integration", integration, "--org", org, "--privilege", "oppslag"
    )
    assert grant["privilege"] == privileges.OPPSLAG and grant["purpose_required"] is False

    here, there = Authorizer(session_factory), Authorizer(session_factory)
    for authz in (here, there):
        assert _check(authz, integration, password, org) is Outcome.OK
        assert _check(authz, integration, password, org) is Outcome.OK

    rotated = admin.json("integration", "new-password", integration)
    assert list(rotated) == ["integrasjon_id", "integrasjon_passord"]
    assert rotated["integrasjon_id"] == integration
    for authz in (here, there):
        assert _check(authz, integration, password, org) is Outcome.INTEGRATION_AUTH_FAILED
        assert _check(authz, integration, rotated["integrasjon_passord"], org) is Outcome.OK

    admin("integration", "delete", integration)
    for authz in (here, there):
        outcome = _check(authz, integration, rotated["integrasjon_passord"], org)
        assert outcome is Outcome.INTEGRATION_AUTH_FAILED

    log = admin.json("log")
    assert [e["action"] for e in reversed(log)] == [
        "org.create",
        "service.activate",
        "integration.create",
        "grant.add",
        "integration.new_password",
        "integration.delete",
    ]
    assert {e["actor"] for e in log} == {"tester"}
    assert password not in admin("log").stdout


def test_tables_and_show(admin: Admin) -> None:
    """Default output is human tables; `show` tells everything about the org."""
    org = admin.json("org", "create", "--navn", "Tabellkommune", "--orgnr", KOMMUNE_ORGNR)["id"]
    admin("service", "activate", org)
    created = admin(
        "integration", "create", "--org", org, "--navn", "Sak",
        "--autorisert-orgnr", LEVERANDOR_ORGNR,
    ).stdout  # fmt: skip
    assert "IntegrasjonPassord:" in created and "bare denne ene gangen" in created
    integration = created.split("IntegrasjonId:")[1].split()[0]
    admin(
        "grant", "add", "--integration", integration, "--org", org,
        "--privilege", privileges.EIERSOK, "--purpose-required",
    )  # fmt: skip
    shown = admin("show", org).stdout
    assert "Tabellkommune" in shown and "aktivert" in shown
    assert integration in shown and privileges.EIERSOK in shown
    assert "Tabellkommune" in admin("org", "list").stdout
    assert integration in admin("integration", "list", "--org", org).stdout
    assert privileges.EIERSOK in admin("grant", "list", "--org", org).stdout
    assert admin.json("org", "show", org)["aktivering"]["aktiv"] is True
    detail = admin.json("integration", "show", integration)
    assert detail["tilganger"][0]["purpose_required"] is True
    admin("grant", "revoke", "--integration", integration, "--org", org, "--privilege", "eiersok")
    assert admin.json("grant", "list", "--integration", integration) == []
    admin("service", "deactivate", org)
    assert admin.json("org", "show", org)["aktivering"]["aktiv"] is False


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (["org", "create", "--navn", "X", "--orgnr", "123456789"], "organisasjonsnummer", 2),
        (["org", "show", "not-a-uuid"], "must be a UUID", 2),
        (["org", "show", "UNKNOWN"], "no organisation", 3),
        (["service", "activate", "UNKNOWN"], "no organisation", 3),
        (["integration", "new-password", "UNKNOWN"], "no integration", 3),
        (["integration", "delete", "abc"], "must be a UUID", 2),
        (["grant", "add", "--integration", "UNKNOWN", "--org", "UNKNOWN",
          "--privilege", "oppslag"], "no integration", 3),
    ],
)  # fmt: skip
def test_bad_input_exits_with_the_shared_codes(
    admin: Admin, args: list[str], needle: str, code: int
) -> None:
    """2 for input that can never be valid, 3 for an id that names nothing (as `oppslag`)."""
    args = [random_id() if a == "UNKNOWN" else a for a in args]
    result = admin(*args, ok=False)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: ") and needle in result.stderr
    assert "Traceback" not in result.output


def test_state_errors_exit_nonzero_and_write_nothing(admin: Admin) -> None:
    org = admin.json("org", "create", "--navn", "K", "--orgnr", KOMMUNE_ORGNR)["id"]
    dup = admin("org", "create", "--navn", "K", "--orgnr", ANNEN_ORGNR, ok=False)
    assert dup.exit_code == 1 and "already exists" in dup.stderr
    creds = admin.json(
        "integration", "create", "--org", org, "--navn", "Sak", "--autorisert-orgnr",
        LEVERANDOR_ORGNR,
    )  # fmt: skip
    integration = creds["integrasjon_id"]
    not_active = admin(
        "grant", "add", "--integration", integration, "--org", org, "--privilege", "oppslag",
        ok=False,
    )  # fmt: skip
    assert not_active.exit_code == 1 and "not activated" in not_active.stderr
    admin("integration", "delete", integration)
    deleted = admin("integration", "new-password", integration, ok=False)
    assert deleted.exit_code == 1 and "is deleted" in deleted.stderr
    unknown = admin(
        "grant", "add", "--integration", integration, "--org", org, "--privilege", "alt",
        ok=False,
    )  # fmt: skip
    assert unknown.exit_code == 2 and "unknown privilege" in unknown.stderr
    actions = [e["action"] for e in admin.json("log")]
    assert actions == ["integration.delete", "integration.create", "org.create"]


def test_first_use_migrates_the_default_store(tmp_path: Path) -> None:
    """With no URL configured the store is a SQLite file in KJR_DATA_DIR, migrated on use."""
    result = runner.invoke(app, ["admin", "org", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == []
    url = f"sqlite:///{(tmp_path / 'kjr' / 'kjoretoyregister.db').resolve()}"
    assert current_revision(url) == head_revision()
    current = runner.invoke(app, ["admin", "db", "current"])
    assert head_revision() in current.stdout
    upgraded = runner.invoke(app, ["admin", "db", "upgrade"])
    assert upgraded.exit_code == 0 and head_revision() in upgraded.stdout


def test_unreachable_database_is_a_clear_error() -> None:
    result = runner.invoke(
        app,
        ["admin", "--database-url", "postgresql+psycopg://u:hemmelig@127.0.0.1:1/x", "org", "list"],
    )
    assert result.exit_code == 1
    assert "cannot open database" in result.stderr
    assert "hemmelig" not in result.output


def test_serve_refuses_to_start_without_admin_tokens() -> None:
    result = runner.invoke(app, ["admin", "serve", "--port", "0"])
    assert result.exit_code == 2
    assert "KJR_KONFIG__ADMIN_TOKENS" in result.stderr

"""Person roles: service functions, the admin-action log, and ``kjoretoyregister portal``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.cli import app
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.errors import Duplicate, InvalidInput, NotFound
from kjoretoyregister.konfig.models import AdminHendelse
from kjoretoyregister.maskinporten.idporten import make_synthetic_fnr
from kjoretoyregister.portal import roles
from kjoretoyregister.portal.models import ADMIN, OPPSLAG
from kjoretoyregister.store.db import make_engine, make_session_factory, upgrade

FNR = make_synthetic_fnr(date(1988, 8, 8), 300)
PZ = Pseudonymizer(b"roles-test-secret-0123456789abcdef")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated database on each backend (PostgreSQL: a throw-away schema)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
        upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
        return
    from kjoretoyregister.store.testing import postgres_schema

    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


def _org(factory) -> str:  # type: ignore[no-untyped-def]
    with factory.begin() as s:
        return str(service.create_org(s, "Rollekommune", "944117784").id)


def test_add_list_remove_with_admin_log(factory) -> None:  # type: ignore[no-untyped-def]
    org = _org(factory)
    key = roles.person_key(PZ, FNR)
    assert FNR not in key and len(key) == 64
    with factory.begin() as s:
        roles.add_role(
            s, pid_pseudonym=key, navn="Kari", fiks_org_id=org, rolle="oppslag", actor="alice"
        )
        roles.add_role(
            s, pid_pseudonym=key, navn="Kari N", fiks_org_id=org, rolle=ADMIN, actor="alice"
        )
    with factory.begin() as s:
        assert roles.roles_of(s, key) == {org: {OPPSLAG, ADMIN}}
        assert {r.navn for r in roles.list_roles(s, org)} == {"Kari N"}
        with pytest.raises(Duplicate):
            roles.add_role(s, pid_pseudonym=key, navn="K", fiks_org_id=org, rolle=ADMIN, actor="a")
    with factory.begin() as s:
        roles.remove_role(s, pid_pseudonym=key, fiks_org_id=org, rolle=ADMIN, actor="bob")
    with factory.begin() as s:
        assert roles.roles_of(s, key) == {org: {OPPSLAG}}
        with pytest.raises(NotFound):
            roles.remove_role(s, pid_pseudonym=key, fiks_org_id=org, rolle=ADMIN, actor="b")
        log = s.scalars(select(AdminHendelse).where(AdminHendelse.target_type == "person")).all()
    assert [(h.actor, h.action) for h in log] == [
        ("alice", "person_role.add"),
        ("alice", "person_role.add"),
        ("bob", "person_role.remove"),
    ]
    assert all(FNR not in str(h.details) and "Kari" not in str(h.details) for h in log)


def test_bad_input(factory) -> None:  # type: ignore[no-untyped-def]
    org = _org(factory)
    key = roles.person_key(PZ, FNR)
    with factory.begin() as s:
        with pytest.raises(InvalidInput):
            roles.add_role(s, pid_pseudonym=key, navn="K", fiks_org_id=org, rolle="SJEF", actor="a")
        with pytest.raises(InvalidInput):
            roles.add_role(
                s, pid_pseudonym=key, navn=" ", fiks_org_id=org, rolle=OPPSLAG, actor="a"
            )
        with pytest.raises(NotFound):
            roles.add_role(
                s,
                pid_pseudonym=key,
                navn="K",
                fiks_org_id="00000000-0000-0000-0000-000000000000",
                rolle=OPPSLAG,
                actor="a",
            )


def test_cli_add_list_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KJR_DATABASE_URL", url)
    upgrade(url)
    engine = make_engine(url)
    org = _org(make_session_factory(engine))
    engine.dispose()
    runner = CliRunner()
    result = runner.invoke(
        app, ["portal", "person-role", "add", org, FNR, "eiersok", "--navn", "Per Person"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["portal", "person-role", "list", "--json"])
    assert result.exit_code == 0 and '"rolle":"EIERSOK"' in result.output
    assert FNR not in result.output
    result = runner.invoke(
        app, ["portal", "person-role", "add", org, "01019012345", "ADMIN", "--navn", "X"]
    )
    assert result.exit_code == 1
    result = runner.invoke(app, ["portal", "person-role", "remove", org, FNR, "EIERSOK"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["portal", "person-role", "remove", org, FNR, "EIERSOK"])
    assert result.exit_code == 1

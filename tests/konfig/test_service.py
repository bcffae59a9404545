"""Konfigurasjon service functions: validation, clear errors, no partial writes, admin log."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.konfig import passwords, privileges, service
from kjoretoyregister.konfig.errors import (
    Duplicate,
    IntegrationDeleted,
    InvalidInput,
    NotFound,
    ServiceNotActivated,
)
from kjoretoyregister.konfig.models import AdminHendelse, Integrasjon, Tilgang

from .helpers import ANNEN_ORGNR, KOMMUNE_ORGNR, LEVERANDOR_ORGNR, random_id, seed

Factory = sessionmaker[Session]


# -- organisations --------------------------------------------------------------------------


def test_create_org_with_given_id_and_compact_orgnr(session_factory: Factory) -> None:
    """The fiksOrgId may be chosen (it comes from elsewhere in real Fiks); orgnr is compacted."""
    org_id = random_id()
    with session_factory.begin() as session:
        org = service.create_org(session, "  Testkommune ", "910 000 004", org_id, actor="a")
    assert str(org.id) == org_id
    assert org.navn == "Testkommune"
    assert org.orgnr == KOMMUNE_ORGNR
    with session_factory() as session:
        assert [o.navn for o in service.list_orgs(session)] == ["Testkommune"]


@pytest.mark.parametrize(
    ("navn", "orgnr", "org_id", "error", "needle"),
    [
        # orgnr must pass the mod-11 check
        ("X", "123456789", None, InvalidInput, "organisasjonsnummer"),
        ("X", "91000000", None, InvalidInput, "organisasjonsnummer"),
        # ids must be UUIDs
        ("X", KOMMUNE_ORGNR, "not-a-uuid", InvalidInput, "UUID"),
        # names must be there
        ("   ", KOMMUNE_ORGNR, None, InvalidInput, "empty"),
        ("x" * 201, KOMMUNE_ORGNR, None, InvalidInput, "200"),
    ],
)
def test_create_org_rejects_bad_input(
    session_factory: Factory,
    navn: str,
    orgnr: str,
    org_id: str | None,
    error: type[Exception],
    needle: str,
) -> None:
    with pytest.raises(error, match=needle), session_factory.begin() as session:
        service.create_org(session, navn, orgnr, org_id)


def test_duplicate_org_name_or_id_is_a_clear_error(session_factory: Factory) -> None:
    org_id = random_id()
    with session_factory.begin() as session:
        service.create_org(session, "Testkommune", KOMMUNE_ORGNR, org_id)
    with pytest.raises(Duplicate, match="named 'Testkommune'"), session_factory.begin() as s:
        service.create_org(s, "Testkommune", ANNEN_ORGNR)
    with pytest.raises(Duplicate, match=org_id), session_factory.begin() as s:
        service.create_org(s, "Annen", ANNEN_ORGNR, org_id)


def test_unknown_and_malformed_ids(session_factory: Factory) -> None:
    """Unknown ids → NotFound; non-UUIDs → InvalidInput, for every kind of id."""
    with session_factory() as session:
        with pytest.raises(NotFound):
            service.get_org(session, random_id())
        with pytest.raises(NotFound):
            service.get_integration(session, random_id())
        with pytest.raises(InvalidInput):
            service.get_org(session, "1234")
        with pytest.raises(InvalidInput):
            service.new_password(session, "'; drop table integrasjon; --")
        with pytest.raises(NotFound):
            service.activate(session, random_id())


# -- activation -----------------------------------------------------------------------------


def test_activate_is_idempotent_and_deactivate_needs_an_active_service(
    session_factory: Factory,
) -> None:
    with session_factory.begin() as session:
        org = service.create_org(session, "K", KOMMUNE_ORGNR)
        with pytest.raises(ServiceNotActivated):
            service.deactivate(session, org.id)
        first = service.activate(session, org.id)
        again = service.activate(session, org.id)
        assert first is again and again.aktiv and again.activated_at is not None
        off = service.deactivate(session, org.id)
        assert not off.aktiv and off.deactivated_at is not None
    with session_factory() as session:
        actions = [e.action for e in service.admin_log(session)]
    # the repeated activation changed nothing and logged nothing
    assert actions == ["service.deactivate", "service.activate", "org.create"]


# -- integrations ---------------------------------------------------------------------------


def test_create_integration_stores_only_an_argon2id_hash(session_factory: Factory) -> None:
    """The password is returned once; the row holds an Argon2id hash that verifies it."""
    with session_factory.begin() as session:
        org = service.create_org(session, "K", KOMMUNE_ORGNR)
        integration, password = service.create_integration(
            session, org.id, "Sak", LEVERANDOR_ORGNR, "beskrivelse"
        )
    assert len(password) == 43 and passwords.is_plausible(password)
    with session_factory() as session:
        row = session.get(Integrasjon, integration.id)
        assert row is not None and row.password_hash is not None
        assert row.password_hash.startswith("$argon2id$")
        assert password not in row.password_hash
        assert passwords.verify_password(row.password_hash, password)
        log = service.admin_log(session, limit=1)[0]
    assert log.action == "integration.create"
    assert password not in str(log.details) and "$argon2" not in str(log.details)


def test_integration_names_unique_per_org_among_live_ones(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        a = service.create_org(session, "A", KOMMUNE_ORGNR)
        b = service.create_org(session, "B", ANNEN_ORGNR)
        first, _ = service.create_integration(session, a.id, "Sak", LEVERANDOR_ORGNR)
        service.create_integration(session, b.id, "Sak", LEVERANDOR_ORGNR)  # other org: fine
    with pytest.raises(Duplicate, match="Sak"), session_factory.begin() as session:
        service.create_integration(session, a.id, "Sak", LEVERANDOR_ORGNR)
    with session_factory.begin() as session:
        service.delete_integration(session, first.id)
        service.create_integration(session, a.id, "Sak", LEVERANDOR_ORGNR)  # name free again


def test_new_password_replaces_the_hash(session_factory: Factory) -> None:
    setup = seed(session_factory)
    with session_factory.begin() as session:
        integration, new = service.new_password(session, setup.integration_id, actor="ola")
    assert new != setup.password
    assert integration.password_hash is not None
    assert passwords.verify_password(integration.password_hash, new)
    assert not passwords.verify_password(integration.password_hash, setup.password)


def test_deleted_integration_cannot_be_changed_or_granted(session_factory: Factory) -> None:
    """Delete removes the hash and the grants; later changes are refused clearly."""
    setup = seed(session_factory)
    with session_factory.begin() as session:
        deleted = service.delete_integration(session, setup.integration_id)
    assert deleted.password_hash is None and deleted.deleted_at is not None
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Tilgang)) == 0
        assert service.list_integrations(session, setup.org_id) == []
        assert len(service.list_integrations(session, setup.org_id, include_deleted=True)) == 1
    for change in (
        lambda s: service.new_password(s, setup.integration_id),
        lambda s: service.delete_integration(s, setup.integration_id),
        lambda s: service.grant(s, setup.integration_id, setup.org_id, privileges.OPPSLAG),
    ):
        with pytest.raises(IntegrationDeleted), session_factory.begin() as session:
            change(session)


# -- grants ---------------------------------------------------------------------------------


def test_grant_requires_an_activated_service(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        org = service.create_org(session, "K", KOMMUNE_ORGNR)
        integration, _ = service.create_integration(session, org.id, "Sak", LEVERANDOR_ORGNR)
    with pytest.raises(ServiceNotActivated, match="not activated"), session_factory.begin() as s:
        service.grant(s, integration.id, org.id, privileges.OPPSLAG)


def test_grant_errors(session_factory: Factory) -> None:
    setup = seed(session_factory)
    with pytest.raises(Duplicate), session_factory.begin() as session:
        service.grant(session, setup.integration_id, setup.org_id, privileges.OPPSLAG)
    with pytest.raises(InvalidInput, match="unknown privilege"), session_factory.begin() as s:
        service.grant(s, setup.integration_id, setup.org_id, "KJORETOYREGISTER.ALT")
    with pytest.raises(NotFound), session_factory.begin() as session:
        service.revoke(session, setup.integration_id, setup.org_id, privileges.EIERSOK)
    with pytest.raises(NotFound), session_factory.begin() as session:
        service.grant(session, setup.integration_id, random_id(), privileges.OPPSLAG)


def test_grant_on_another_org_and_revoke(session_factory: Factory) -> None:
    """A supplier's integration can be granted on a second municipality (shared integration)."""
    setup = seed(session_factory)
    with session_factory.begin() as session:
        other = service.create_org(session, "Nabokommune", ANNEN_ORGNR)
        service.activate(session, other.id)
        row = service.grant(
            session, setup.integration_id, other.id, privileges.EIERSOK, purpose_required=True
        )
        assert row.purpose_required
    with session_factory() as session:
        assert len(service.list_grants(session, integrasjon_id=setup.integration_id)) == 2
        overview = service.org_overview(session, other.id)
        assert [g.privilegium for g in overview.tilganger] == [privileges.EIERSOK]
        assert overview.integrasjoner == []  # owned by the first org
    with session_factory.begin() as session:
        service.revoke(session, setup.integration_id, other.id, privileges.EIERSOK)
    with session_factory() as session:
        assert len(service.list_grants(session, integrasjon_id=setup.integration_id)) == 1


# -- unit of work ---------------------------------------------------------------------------


def test_failure_in_a_unit_of_work_leaves_nothing_behind(session_factory: Factory) -> None:
    """Service functions flush but never commit: a later error rolls back earlier steps."""
    with pytest.raises(InvalidInput), session_factory.begin() as session:
        org = service.create_org(session, "K", KOMMUNE_ORGNR)
        service.activate(session, org.id)
        service.create_integration(session, org.id, "Sak", "123456789")  # bad orgnr
    with session_factory() as session:
        assert service.list_orgs(session) == []
        assert service.admin_log(session) == []


# -- admin log ------------------------------------------------------------------------------


def test_every_change_is_logged_with_its_actor(session_factory: Factory) -> None:
    setup = seed(session_factory)
    with session_factory.begin() as session:
        service.new_password(session, setup.integration_id, actor="cli:ola")
        service.revoke(session, setup.integration_id, setup.org_id, privileges.OPPSLAG, actor="b")
        service.deactivate(session, setup.org_id, actor="c")
        service.delete_integration(session, setup.integration_id, actor="d")
    with session_factory() as session:
        entries = list(reversed(service.admin_log(session)))
        by_target = service.admin_log(session, target_id=setup.integration_id)
    assert [(e.actor, e.action) for e in entries] == [
        ("test", "org.create"),
        ("test", "service.activate"),
        ("test", "integration.create"),
        ("test", "grant.add"),
        ("cli:ola", "integration.new_password"),
        ("b", "grant.revoke"),
        ("c", "service.deactivate"),
        ("d", "integration.delete"),
    ]
    assert all(e.time.tzinfo is not None for e in entries)
    assert {e.action for e in by_target} == {
        "integration.create",
        "grant.add",
        "integration.new_password",
        "grant.revoke",
        "integration.delete",
    }


def test_admin_log_cannot_be_edited_or_deleted(session_factory: Factory) -> None:
    """The database itself refuses UPDATE and DELETE on the log (triggers on both backends)."""
    seed(session_factory)
    for statement in (
        "UPDATE admin_hendelse SET actor = 'someone else'",
        "DELETE FROM admin_hendelse",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as s:
            s.execute(text(statement))
    # and through the ORM
    with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as session:
        entry = session.scalars(select(AdminHendelse)).first()
        assert entry is not None
        entry.actor = "forged"
    with session_factory() as session:
        assert {e.actor for e in service.admin_log(session)} == {"test"}
        assert len(service.admin_log(session)) == 4


def test_admin_log_limit_is_bounded(session_factory: Factory) -> None:
    with session_factory() as session, pytest.raises(InvalidInput):
        service.admin_log(session, limit=0)


def test_ids_may_be_uuid_objects(session_factory: Factory) -> None:
    setup = seed(session_factory)
    with session_factory() as session:
        assert service.get_org(session, uuid.UUID(setup.org_id)).navn == "Testkommune"

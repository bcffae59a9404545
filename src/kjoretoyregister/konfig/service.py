"""Konfigurasjon operations: each validates, changes rows, logs the action and flushes.

Every function takes the caller's ``Session`` and never commits: the edge (CLI command, admin
API request, demo seeding) owns the unit of work, so a failure anywhere leaves nothing
behind, and the admin-action log row commits together with the change it describes.
Expected failures raise :mod:`kjoretoyregister.konfig.errors` exceptions.

Ids may be given as ``uuid.UUID`` or as strings; a string that is not a UUID is an
:class:`~kjoretoyregister.konfig.errors.InvalidInput`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.no import orgnr as stdnum_orgnr

from kjoretoyregister.konfig import passwords, privileges
from kjoretoyregister.konfig.errors import (
    Duplicate,
    IntegrationDeleted,
    InvalidInput,
    NotFound,
    ServiceNotActivated,
)
from kjoretoyregister.konfig.models import (
    TJENESTE,
    AdminHendelse,
    FiksOrganisasjon,
    Integrasjon,
    Tilgang,
    TjenesteAktivering,
)
from kjoretoyregister.store.db import utcnow

#: Actor recorded when a caller does not name one (seeding, tests).
SYSTEM_ACTOR = "system"

MAX_NAME = 200
MAX_BESKRIVELSE = 2000

IdLike = str | uuid.UUID


@dataclass(frozen=True, slots=True)
class OrgOverview:
    """Everything about one organisation, for ``admin show`` and ``GET /orgs/{id}``."""

    org: FiksOrganisasjon
    aktivering: TjenesteAktivering | None
    integrasjoner: list[Integrasjon]  # owned by the org, live ones only
    tilganger: list[Tilgang]  # grants on the org's service (any integration's)


# -- validation ---------------------------------------------------------------------------


def parse_uuid(value: IdLike, what: str) -> uuid.UUID:
    """``value`` as a UUID, or :class:`InvalidInput` naming ``what`` if it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"{what} must be a UUID, got {value!r}") from None


def parse_orgnr(value: str, what: str = "orgnr") -> str:
    """The compact 9-digit form of a valid organisasjonsnummer (mod-11 check digit)."""
    try:
        return str(stdnum_orgnr.validate(value))
    except StdnumValidationError:
        raise InvalidInput(f"{what} must be a valid 9-digit organisasjonsnummer") from None


def _name(value: str, what: str = "navn") -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput(f"{what} must not be empty")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"{what} must be at most {MAX_NAME} characters")
    return cleaned


def _privilege(value: str) -> str:
    if not privileges.is_known(value):
        raise InvalidInput(f"unknown privilege {value!r}; known: {', '.join(privileges.ALL)}")
    return value


def _log(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AdminHendelse(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details or {},
        )
    )


def _flush(session: Session, duplicate_message: str) -> None:
    """Flush; a unique-constraint race with a concurrent writer becomes :class:`Duplicate`."""
    try:
        session.flush()
    except IntegrityError:
        raise Duplicate(duplicate_message) from None


# -- organisations ------------------------------------------------------------------------


def create_org(
    session: Session,
    navn: str,
    orgnr: str,
    id: IdLike | None = None,  # the interface's name
    *,
    actor: str = SYSTEM_ACTOR,
) -> FiksOrganisasjon:
    """Register a Fiks organisation.

    Args:
        navn: display name, unique across organisations.
        orgnr: the organisation's main organisasjonsnummer (mod-11 checked).
        id: the fiksOrgId to use; a new random UUID if None.
        actor: who did it, for the admin-action log.

    Returns:
        The new organisation (flushed, not committed).
    """
    navn = _name(navn)
    orgnr = parse_orgnr(orgnr)
    org_id = parse_uuid(id, "fiksOrgId") if id is not None else uuid.uuid4()
    if session.get(FiksOrganisasjon, org_id) is not None:
        raise Duplicate(f"organisation {org_id} already exists")
    if session.scalar(select(FiksOrganisasjon.id).where(FiksOrganisasjon.navn == navn)):
        raise Duplicate(f"an organisation named {navn!r} already exists")
    org = FiksOrganisasjon(id=org_id, navn=navn, orgnr=orgnr)
    session.add(org)
    _log(session, actor, "org.create", "org", org_id, {"navn": navn, "orgnr": orgnr})
    _flush(session, f"an organisation named {navn!r} or with id {org_id} already exists")
    return org


def get_org(session: Session, fiks_org_id: IdLike) -> FiksOrganisasjon:
    """The organisation, or :class:`NotFound`."""
    org_id = parse_uuid(fiks_org_id, "fiksOrgId")
    org = session.get(FiksOrganisasjon, org_id)
    if org is None:
        raise NotFound(f"no organisation with id {org_id}")
    return org


def list_orgs(session: Session) -> list[FiksOrganisasjon]:
    """All organisations by name."""
    return list(session.scalars(select(FiksOrganisasjon).order_by(FiksOrganisasjon.navn)))


# -- service activation -------------------------------------------------------------------


def get_activation(session: Session, fiks_org_id: IdLike) -> TjenesteAktivering | None:
    """The Kjøretøyregister activation row of an organisation, if it ever had one."""
    org_id = parse_uuid(fiks_org_id, "fiksOrgId")
    return session.get(TjenesteAktivering, (org_id, TJENESTE))


def activate(
    session: Session, fiks_org_id: IdLike, *, actor: str = SYSTEM_ACTOR
) -> TjenesteAktivering:
    """Activate Kjøretøyregister for the organisation (no change if already active)."""
    org = get_org(session, fiks_org_id)
    row = get_activation(session, org.id)
    if row is not None and row.aktiv:
        return row
    now = utcnow()
    if row is None:
        row = TjenesteAktivering(fiks_org_id=org.id, tjeneste=TJENESTE, aktiv=True)
        session.add(row)
    row.aktiv = True
    row.activated_at = now
    _log(session, actor, "service.activate", "org", org.id, {"tjeneste": TJENESTE})
    session.flush()
    return row


def deactivate(
    session: Session, fiks_org_id: IdLike, *, actor: str = SYSTEM_ACTOR
) -> TjenesteAktivering:
    """Deactivate Kjøretøyregister for the organisation; its grants stay but stop working.

    Raises:
        ServiceNotActivated: the service is not active for the organisation.
    """
    org = get_org(session, fiks_org_id)
    row = get_activation(session, org.id)
    if row is None or not row.aktiv:
        raise ServiceNotActivated(f"{TJENESTE} is not activated for organisation {org.id}")
    row.aktiv = False
    row.deactivated_at = utcnow()
    _log(session, actor, "service.deactivate", "org", org.id, {"tjeneste": TJENESTE})
    session.flush()
    return row


# -- integrations -------------------------------------------------------------------------


def create_integration(
    session: Session,
    fiks_org_id: IdLike,
    navn: str,
    autorisert_orgnr: str,
    beskrivelse: str = "",
    *,
    id: IdLike | None = None,
    actor: str = SYSTEM_ACTOR,
) -> tuple[Integrasjon, str]:
    """Create an integration owned by an organisation and generate its password.

    Args:
        fiks_org_id: the owning organisation.
        navn: display name, unique among the organisation's live integrations.
        autorisert_orgnr: the orgnr the Maskinporten token's ``consumer`` must carry
            (usually the supplier's).
        beskrivelse: free text.
        id: the integration id to use; a random UUID if None.
        actor: who did it, for the admin-action log.

    Returns:
        ``(integration, password)``. The password is not stored anywhere and cannot be
        retrieved again; show it once.
    """
    navn = _name(navn)
    autorisert_orgnr = parse_orgnr(autorisert_orgnr, "autorisert_orgnr")
    if len(beskrivelse) > MAX_BESKRIVELSE:
        raise InvalidInput(f"beskrivelse must be at most {MAX_BESKRIVELSE} characters")
    integration_id = parse_uuid(id, "integrasjonId") if id is not None else uuid.uuid4()
    # Hash before the first query: on SQLite the first query takes the write lock, and other
    # writers should not wait for Argon2.
    password = passwords.generate_password()
    password_hash = passwords.hash_password(password)
    org = get_org(session, fiks_org_id)
    if session.get(Integrasjon, integration_id) is not None:
        raise Duplicate(f"integration {integration_id} already exists")
    taken = select(Integrasjon.id).where(
        Integrasjon.fiks_org_id == org.id,
        Integrasjon.navn == navn,
        Integrasjon.deleted_at.is_(None),
    )
    if session.scalar(taken) is not None:
        raise Duplicate(f"organisation {org.id} already has an integration named {navn!r}")
    now = utcnow()
    integration = Integrasjon(
        id=integration_id,
        fiks_org_id=org.id,
        navn=navn,
        beskrivelse=beskrivelse,
        autorisert_orgnr=autorisert_orgnr,
        password_hash=password_hash,
        password_changed_at=now,
        created_at=now,
    )
    session.add(integration)
    _log(
        session,
        actor,
        "integration.create",
        "integration",
        integration_id,
        {"fiks_org_id": str(org.id), "navn": navn, "autorisert_orgnr": autorisert_orgnr},
    )
    _flush(session, f"organisation {org.id} already has an integration named {navn!r}")
    return integration, password


def get_integration(session: Session, integrasjon_id: IdLike) -> Integrasjon:
    """The integration (deleted ones included), or :class:`NotFound`."""
    integration_id = parse_uuid(integrasjon_id, "integrasjonId")
    integration = session.get(Integrasjon, integration_id)
    if integration is None:
        raise NotFound(f"no integration with id {integration_id}")
    return integration


def _live_integration(session: Session, integrasjon_id: IdLike) -> Integrasjon:
    integration = get_integration(session, integrasjon_id)
    if integration.deleted_at is not None:
        raise IntegrationDeleted(f"integration {integration.id} is deleted")
    return integration


def list_integrations(
    session: Session, fiks_org_id: IdLike | None = None, *, include_deleted: bool = False
) -> list[Integrasjon]:
    """Integrations, optionally of one organisation (which must exist), by name."""
    query = select(Integrasjon).order_by(Integrasjon.navn, Integrasjon.created_at)
    if fiks_org_id is not None:
        query = query.where(Integrasjon.fiks_org_id == get_org(session, fiks_org_id).id)
    if not include_deleted:
        query = query.where(Integrasjon.deleted_at.is_(None))
    return list(session.scalars(query))


def new_password(
    session: Session, integrasjon_id: IdLike, *, actor: str = SYSTEM_ACTOR
) -> tuple[Integrasjon, str]:
    """Generate a new password; the old one stops working as soon as this commits.

    Returns:
        ``(integration, password)``; show the password once.
    """
    password = passwords.generate_password()
    password_hash = passwords.hash_password(password)
    integration = _live_integration(session, integrasjon_id)
    integration.password_hash = password_hash
    integration.password_changed_at = utcnow()
    _log(session, actor, "integration.new_password", "integration", integration.id)
    session.flush()
    return integration, password


def delete_integration(
    session: Session, integrasjon_id: IdLike, *, actor: str = SYSTEM_ACTOR
) -> Integrasjon:
    """Delete an integration: every call with it fails from the commit on.

    The row stays (audit records point at it) without a password hash; its grants are
    removed and listed in the log entry.
    """
    integration = _live_integration(session, integrasjon_id)
    grants = list(session.scalars(select(Tilgang).where(Tilgang.integrasjon_id == integration.id)))
    for row in grants:
        session.delete(row)
    integration.password_hash = None
    integration.deleted_at = utcnow()
    _log(
        session,
        actor,
        "integration.delete",
        "integration",
        integration.id,
        {
            "revoked": [
                {"fiks_org_id": str(g.fiks_org_id), "privilege": g.privilegium} for g in grants
            ]
        },
    )
    session.flush()
    return integration


# -- grants -------------------------------------------------------------------------------


def grant(
    session: Session,
    integrasjon_id: IdLike,
    fiks_org_id: IdLike,
    privilege: str,
    *,
    purpose_required: bool = False,
    actor: str = SYSTEM_ACTOR,
) -> Tilgang:
    """Give an integration a privilege on an organisation's Kjøretøyregister service.

    The integration may belong to another organisation (a supplier's shared integration,
    fiks-platform.md §1.1 «Globale integrasjoner»); the granting organisation must have
    the service activated.

    Raises:
        ServiceNotActivated: the organisation has not activated Kjøretøyregister.
        IntegrationDeleted: the integration was deleted.
        Duplicate: the grant exists already.
    """
    privilege = _privilege(privilege)
    integration = _live_integration(session, integrasjon_id)
    org = get_org(session, fiks_org_id)
    activation = get_activation(session, org.id)
    if activation is None or not activation.aktiv:
        raise ServiceNotActivated(
            f"{TJENESTE} is not activated for organisation {org.id}; activate it before granting"
        )
    key = (integration.id, org.id, privilege)
    if session.get(Tilgang, key) is not None:
        raise Duplicate(f"integration {integration.id} already has {privilege} on {org.id}")
    row = Tilgang(
        integrasjon_id=integration.id,
        fiks_org_id=org.id,
        privilegium=privilege,
        purpose_required=purpose_required,
    )
    session.add(row)
    _log(
        session,
        actor,
        "grant.add",
        "integration",
        integration.id,
        {"fiks_org_id": str(org.id), "privilege": privilege, "purpose_required": purpose_required},
    )
    _flush(session, f"integration {integration.id} already has {privilege} on {org.id}")
    return row


def revoke(
    session: Session,
    integrasjon_id: IdLike,
    fiks_org_id: IdLike,
    privilege: str,
    *,
    actor: str = SYSTEM_ACTOR,
) -> None:
    """Withdraw a grant; calls needing it get 403 from the commit on.

    Raises:
        NotFound: there is no such grant (or no such integration/organisation).
    """
    privilege = _privilege(privilege)
    integration = get_integration(session, integrasjon_id)
    org = get_org(session, fiks_org_id)
    row = session.get(Tilgang, (integration.id, org.id, privilege))
    if row is None:
        raise NotFound(f"integration {integration.id} has no {privilege} on {org.id}")
    session.delete(row)
    _log(
        session,
        actor,
        "grant.revoke",
        "integration",
        integration.id,
        {"fiks_org_id": str(org.id), "privilege": privilege},
    )
    session.flush()


def list_grants(
    session: Session,
    *,
    fiks_org_id: IdLike | None = None,
    integrasjon_id: IdLike | None = None,
) -> list[Tilgang]:
    """Grants, filtered by organisation and/or integration (each must exist)."""
    query = select(Tilgang).order_by(
        Tilgang.fiks_org_id, Tilgang.integrasjon_id, Tilgang.privilegium
    )
    if fiks_org_id is not None:
        query = query.where(Tilgang.fiks_org_id == get_org(session, fiks_org_id).id)
    if integrasjon_id is not None:
        query = query.where(Tilgang.integrasjon_id == get_integration(session, integrasjon_id).id)
    return list(session.scalars(query))


# -- reading ------------------------------------------------------------------------------


def org_overview(session: Session, fiks_org_id: IdLike) -> OrgOverview:
    """The organisation, its activation, its live integrations and the grants on it."""
    org = get_org(session, fiks_org_id)
    return OrgOverview(
        org=org,
        aktivering=get_activation(session, org.id),
        integrasjoner=list_integrations(session, org.id),
        tilganger=list_grants(session, fiks_org_id=org.id),
    )


def admin_log(
    session: Session, *, limit: int = 100, target_id: IdLike | None = None
) -> Sequence[AdminHendelse]:
    """The newest ``limit`` admin-log entries (newest first), optionally for one target."""
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000")
    query = select(AdminHendelse).order_by(AdminHendelse.id.desc()).limit(limit)
    if target_id is not None:
        query = query.where(AdminHendelse.target_id == str(parse_uuid(target_id, "target")))
    return list(session.scalars(query))

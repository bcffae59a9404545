"""Tables of Fiks Konfigurasjon: organisations, service activation, integrations, grants, log.

Resource model (fiks-platform.md §1.7, inferred): ``ROOT → FiksOrganisasjon → Tjeneste
(KJORETOYREGISTER)``. "Service activated" is a row in ``tjeneste_aktivering`` with
``aktiv`` true; a grant (``tilgang``) gives an integration a privilege on one organisation's
service. Integrations are soft-deleted so that audit records keep pointing at a row; a
deleted integration has no password hash and never authenticates again.

The admin-action log (``admin_hendelse``) is append-only: no service function updates or
deletes it, and the migration installs triggers on both backends that refuse UPDATE and
DELETE on the table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kjoretoyregister.store.db import Base, BigIntPK, utcnow

#: The service name used as the resource under an organisation (one service in this system).
TJENESTE = "KJORETOYREGISTER"


class FiksOrganisasjon(Base):
    """A customer organisation on the Fiks platform; ``id`` is the ``fiksOrgId`` in URLs."""

    __tablename__ = "fiks_organisasjon"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    navn: Mapped[str] = mapped_column(String(200), unique=True)
    orgnr: Mapped[str] = mapped_column(String(9), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TjenesteAktivering(Base):
    """Whether a service is activated for an organisation, with when it last changed."""

    __tablename__ = "tjeneste_aktivering"

    fiks_org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fiks_organisasjon.id"), primary_key=True
    )
    tjeneste: Mapped[str] = mapped_column(String(64), primary_key=True)
    aktiv: Mapped[bool]
    activated_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]


class Integrasjon(Base):
    """A Fiks integration: the id/password pair a fagsystem sends, owned by one organisation.

    ``password_hash`` is an Argon2id hash (never the password); it is None once deleted.
    ``autorisert_orgnr`` must equal the orgnr in the Maskinporten token's ``consumer`` claim.
    """

    __tablename__ = "integrasjon"
    __table_args__ = (
        # Names are unique per owner among live integrations; a deleted name can be reused.
        Index(
            "uq_integrasjon_fiks_org_id_navn_live",
            "fiks_org_id",
            "navn",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    fiks_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fiks_organisasjon.id"), index=True)
    navn: Mapped[str] = mapped_column(String(200))
    beskrivelse: Mapped[str] = mapped_column(Text, default="")
    autorisert_orgnr: Mapped[str] = mapped_column(String(9))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class Tilgang(Base):
    """A grant: integration × organisation × privilege on the Kjøretøyregister service.

    ``purpose_required`` tells the gateway that calls under this grant must state a purpose
    (read by the audit part).
    """

    __tablename__ = "tilgang"

    integrasjon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrasjon.id"), primary_key=True
    )
    fiks_org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fiks_organisasjon.id"), primary_key=True, index=True
    )
    privilegium: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose_required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Data minimisation (konfig.feltpolicy): the policy id (``parkering@1``,
    # ``egendefinert@…``), and for a custom one its field lists as JSON. None = passthrough.
    feltpolicy: Mapped[str | None] = mapped_column(String(80), default=None)
    feltpolicy_felter: Mapped[str | None] = mapped_column(Text, default=None)


class AdminHendelse(Base):
    """One admin action: who (``actor``) did what (``action``) to which object, and when.

    Append-only. ``details`` never holds passwords or hashes.
    """

    __tablename__ = "admin_hendelse"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

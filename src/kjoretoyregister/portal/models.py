"""The portal's tables: person roles per Fiks organisation, and the shared session store.

``person_rolle``: which person has which role on which Fiks organisation.

A person is stored by the keyed pseudonym of their fødselsnummer (ID-porten's ``pid``), made
with the audit secret (:class:`~kjoretoyregister.audit.pseudonyms.Pseudonymizer`), never in
clear: the same value then names the person as actor in audit records, and a leaked table does
not list employees' fødselsnummer. ``navn`` is the display name the administrator typed (or
the name from the ID token at the first login), for the role list and the audit view.

Changing the audit secret orphans these rows (new pseudonyms); re-add the roles then.

``portal_session``: the portal's sessions when no Redis is configured
(:mod:`kjoretoyregister.portal.db_sessions`), keyed by a hash of the cookie value.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kjoretoyregister.store.db import Base, utcnow

#: Lookups by kjennemerke / understellsnummer / kuid (the OPPSLAG privilege's endpoints).
OPPSLAG = "OPPSLAG"
#: Owner searches by name (the EIERSOK privilege's endpoints).
EIERSOK = "EIERSOK"
#: Administration of the organisation: integrations, grants, person roles, audit, innsyn.
ADMIN = "ADMIN"
ROLES = (OPPSLAG, EIERSOK, ADMIN)


class PersonRolle(Base):
    """One role of one person on one organisation."""

    __tablename__ = "person_rolle"

    pid_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    fiks_org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fiks_organisasjon.id"), primary_key=True, index=True
    )
    rolle: Mapped[str] = mapped_column(String(16), primary_key=True)
    navn: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class PortalSessionRow(Base):
    """One portal session (see :mod:`kjoretoyregister.portal.db_sessions`).

    ``key`` is SHA-256 of the cookie value (never the cookie itself); ``data`` the session as
    JSON (CSRF token, pending OIDC login, the person's pseudonym and display name);
    ``expires_at`` the sooner of the idle and absolute timeouts, moved on every request.
    """

    __tablename__ = "portal_session"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)

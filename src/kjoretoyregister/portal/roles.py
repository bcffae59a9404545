"""Person roles per Fiks organisation: add, remove, list, and what a person may do.

Like Konfigurasjon's service functions (and next to them in spirit): each takes the caller's
``Session``, validates, changes rows, writes an admin-action log row (``admin_hendelse``) with
the actor, flushes — and never commits; the edge owns the unit of work.

Persons are keyed by :func:`person_key` (keyed pseudonym of the fødselsnummer), see
:mod:`kjoretoyregister.portal.models`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.errors import Duplicate, InvalidInput, NotFound
from kjoretoyregister.konfig.models import AdminHendelse
from kjoretoyregister.konfig.privileges import EIERSOK as EIERSOK_PRIVILEGE
from kjoretoyregister.konfig.privileges import OPPSLAG as OPPSLAG_PRIVILEGE
from kjoretoyregister.portal.models import ADMIN, EIERSOK, OPPSLAG, ROLES, PersonRolle

IdLike = str | uuid.UUID

#: Which gateway privilege each person role stands for (the same authorization idea as the
#: API: a route needs a privilege, a person's role grants it).
PRIVILEGE_OF_ROLE = {OPPSLAG: OPPSLAG_PRIVILEGE, EIERSOK: EIERSOK_PRIVILEGE}

ROLE_LABELS = {
    OPPSLAG: "Oppslag (kjennemerke, understellsnummer, kuid)",
    EIERSOK: "Eiersøk (søk på eiers navn)",
    ADMIN: "Administrator",
}


def person_key(pz: Pseudonymizer, pid: str) -> str:
    """The stored key of a person: the keyed pseudonym of their fødselsnummer."""
    return pz.pseudonym("fodselsnummer", pid)


def _role(value: str) -> str:
    role = value.strip().upper()
    if role not in ROLES:
        raise InvalidInput(f"unknown role {value!r}; known: {', '.join(ROLES)}")
    return role


def _navn(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > 200:
        raise InvalidInput("navn must be 1–200 characters")
    return cleaned


def add_role(
    session: Session,
    *,
    pid_pseudonym: str,
    navn: str,
    fiks_org_id: IdLike,
    rolle: str,
    actor: str,
) -> PersonRolle:
    """Give a person a role on an organisation.

    Raises:
        InvalidInput: unknown role, empty name, malformed key.
        NotFound: no such organisation.
        Duplicate: the person has the role already.
    """
    role = _role(rolle)
    name = _navn(navn)
    if len(pid_pseudonym) != 64:
        raise InvalidInput("pid_pseudonym must be a 64-character pseudonym")
    org = service.get_org(session, fiks_org_id)
    if session.get(PersonRolle, (pid_pseudonym, org.id, role)) is not None:
        raise Duplicate(f"the person already has {role} on {org.id}")
    row = PersonRolle(
        pid_pseudonym=pid_pseudonym,
        fiks_org_id=org.id,
        rolle=role,
        navn=name,
        created_by=actor[:200],
    )
    session.add(row)
    # Keep the display name the same on all the person's rows for this org.
    for other in list_roles(session, org.id, pid_pseudonym=pid_pseudonym):
        other.navn = name
    _log(session, actor, "person_role.add", pid_pseudonym, org.id, role)
    session.flush()
    return row


def remove_role(
    session: Session, *, pid_pseudonym: str, fiks_org_id: IdLike, rolle: str, actor: str
) -> None:
    """Take a role away; the person's next request is refused.

    Raises:
        NotFound: the person does not have that role there.
    """
    role = _role(rolle)
    org = service.get_org(session, fiks_org_id)
    row = session.get(PersonRolle, (pid_pseudonym, org.id, role))
    if row is None:
        raise NotFound(f"the person has no {role} on {org.id}")
    session.delete(row)
    _log(session, actor, "person_role.remove", pid_pseudonym, org.id, role)
    session.flush()


def list_roles(
    session: Session, fiks_org_id: IdLike | None = None, *, pid_pseudonym: str | None = None
) -> list[PersonRolle]:
    """Role rows, optionally of one organisation and/or one person, by name then role."""
    query = select(PersonRolle).order_by(
        PersonRolle.fiks_org_id, PersonRolle.navn, PersonRolle.pid_pseudonym, PersonRolle.rolle
    )
    if fiks_org_id is not None:
        query = query.where(PersonRolle.fiks_org_id == service.parse_uuid(fiks_org_id, "org"))
    if pid_pseudonym is not None:
        query = query.where(PersonRolle.pid_pseudonym == pid_pseudonym)
    return list(session.scalars(query))


def roles_of(session: Session, pid_pseudonym: str) -> dict[str, set[str]]:
    """A person's roles: ``{fiksOrgId: {role, …}}``."""
    out: dict[str, set[str]] = {}
    for row in list_roles(session, pid_pseudonym=pid_pseudonym):
        out.setdefault(str(row.fiks_org_id), set()).add(row.rolle)
    return out


def names_of(session: Session, pseudonyms: Iterable[str]) -> dict[str, str]:
    """Display names for person keys (for the audit view); unknown keys are left out."""
    wanted = sorted(set(pseudonyms))
    if not wanted:
        return {}
    rows = session.execute(
        select(PersonRolle.pid_pseudonym, PersonRolle.navn).where(
            PersonRolle.pid_pseudonym.in_(wanted)
        )
    )
    return {r.pid_pseudonym: r.navn for r in rows}


def _log(
    session: Session, actor: str, action: str, pid_pseudonym: str, org: uuid.UUID, role: str
) -> None:
    # The same append-only log as Konfigurasjon's own changes; no name or fnr in details.
    session.add(
        AdminHendelse(
            actor=actor[:200],
            action=action,
            target_type="person",
            target_id=pid_pseudonym[:64],
            details={"fiks_org_id": str(org), "rolle": role},
        )
    )

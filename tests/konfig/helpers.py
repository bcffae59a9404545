"""Small builders shared by the konfig tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.konfig import privileges, service

# Valid (mod-11) organisation numbers; synthetic.
KOMMUNE_ORGNR = "910000004"
LEVERANDOR_ORGNR = "910000012"
ANNEN_ORGNR = "910000020"
KOMMUNE2_ORGNR = "910000039"


@dataclass(frozen=True)
class Setup:
    """An activated organisation with one integration holding OPPSLAG on it."""

    org_id: str
    integration_id: str
    password: str


def seed(
    factory: sessionmaker[Session],
    *,
    navn: str = "Testkommune",
    privilege: str = privileges.OPPSLAG,
    purpose_required: bool = False,
) -> Setup:
    """Org → activation → integration → grant, committed in one unit of work."""
    with factory.begin() as session:
        org = service.create_org(session, navn, KOMMUNE_ORGNR, actor="test")
        service.activate(session, org.id, actor="test")
        integration, password = service.create_integration(
            session, org.id, "Fagsystem", LEVERANDOR_ORGNR, "sak", actor="test"
        )
        service.grant(
            session,
            integration.id,
            org.id,
            privilege,
            purpose_required=purpose_required,
            actor="test",
        )
    return Setup(str(org.id), str(integration.id), password)


def random_id() -> str:
    return str(uuid.uuid4())

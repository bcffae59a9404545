"""JSON shapes of the admin API and of ``kjoretoyregister admin … --json``.

Request bodies keep values as plain strings: the service layer validates ids, orgnr and
privileges and names the bad field in its error, so the API and the CLI say the same thing.
Responses are built from the ORM rows (``from_attributes``). Field names are snake_case,
matching ``{"integrasjon_id": …, "integrasjon_passord": …}`` of the CLI.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kjoretoyregister.konfig.service import OrgOverview


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


# -- requests -------------------------------------------------------------------------------


class OrgCreate(_In):
    """Register a Fiks organisation."""

    navn: str = Field(description="Display name, unique", max_length=200)
    orgnr: str = Field(description="Main organisasjonsnummer (9 digits, mod-11)")
    id: str | None = Field(None, description="fiksOrgId to use (UUID); random if absent")


class IntegrationCreate(_In):
    """Create an integration owned by an organisation; the answer holds its password once."""

    fiks_org_id: str = Field(description="Owning organisation (UUID)")
    navn: str = Field(description="Name, unique among the organisation's integrations")
    autorisert_orgnr: str = Field(
        description="Orgnr the Maskinporten token's consumer must carry (usually the supplier)"
    )
    beskrivelse: str = Field("", max_length=2000)


class GrantCreate(_In):
    """Give the integration a privilege on an organisation's Kjøretøyregister service."""

    fiks_org_id: str = Field(description="Organisation granting access (UUID)")
    privilege: str = Field(description="KJORETOYREGISTER.OPPSLAG or KJORETOYREGISTER.EIERSOK")
    purpose_required: bool = Field(False, description="Calls must state a purpose")


# -- responses ------------------------------------------------------------------------------


class OrgOut(_Out):
    """A Fiks organisation."""

    id: uuid.UUID
    navn: str
    orgnr: str
    created_at: datetime


class ActivationOut(_Out):
    """Whether Kjøretøyregister is activated for the organisation."""

    tjeneste: str
    aktiv: bool
    activated_at: datetime | None
    deactivated_at: datetime | None


class IntegrationOut(_Out):
    """An integration; never its password or hash."""

    id: uuid.UUID
    fiks_org_id: uuid.UUID
    navn: str
    beskrivelse: str
    autorisert_orgnr: str
    created_at: datetime
    password_changed_at: datetime
    deleted_at: datetime | None


class Credentials(BaseModel):
    """A password shown exactly once (create, new password). Store it now."""

    integrasjon_id: uuid.UUID
    integrasjon_passord: str


class IntegrationCreated(Credentials):
    """Credentials of a new integration, with the integration itself."""

    integrasjon: IntegrationOut


class GrantOut(_Out):
    """A privilege an integration holds on an organisation."""

    integrasjon_id: uuid.UUID
    fiks_org_id: uuid.UUID
    privilege: str = Field(validation_alias="privilegium")
    purpose_required: bool
    created_at: datetime
    # The field policy id (``parkering@1``, ``egendefinert@…``); None = SVV's answer unchanged.
    feltpolicy: str | None = None


class IntegrationDetail(BaseModel):
    """An integration with every grant it holds."""

    integrasjon: IntegrationOut
    tilganger: list[GrantOut]


class OrgOverviewOut(BaseModel):
    """Everything about an organisation: activation, own integrations, grants on it."""

    org: OrgOut
    aktivering: ActivationOut | None
    integrasjoner: list[IntegrationOut]
    tilganger: list[GrantOut]

    @classmethod
    def of(cls, overview: OrgOverview) -> OrgOverviewOut:
        """Build from the service's overview."""
        return cls(
            org=OrgOut.model_validate(overview.org),
            aktivering=(
                ActivationOut.model_validate(overview.aktivering) if overview.aktivering else None
            ),
            integrasjoner=[IntegrationOut.model_validate(i) for i in overview.integrasjoner],
            tilganger=[GrantOut.model_validate(g) for g in overview.tilganger],
        )


class AdminLogEntryOut(_Out):
    """One entry of the append-only admin-action log."""

    id: int
    time: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


class ErrorMessage(BaseModel):
    """The Fiks error body every error response carries."""

    timestamp: int = Field(description="Epoch milliseconds")
    status: int
    error: str = Field(description="HTTP reason phrase")
    errorId: str = Field(description="UUID to quote to support")
    path: str
    originalPath: str | None = None
    message: str
    errorCode: str | None = None
    errorJson: Any = None


class FeltpolicySet(BaseModel):
    """Body of ``PUT …/grants/{org}/{privilege}/feltpolicy``: a preset, or custom field lists.

    ``{}`` clears the policy (passthrough). ``preset`` and ``felter``/``kundefelter`` are
    mutually exclusive.
    """

    model_config = ConfigDict(extra="forbid")

    preset: str | None = Field(default=None, description="Preset name, e.g. 'parkering'.")
    versjon: int | None = Field(default=None, description="Preset version; newest if absent.")
    felter: list[str] | None = Field(default=None, description="Kjoretoy field paths to keep.")
    kundefelter: list[str] | None = Field(default=None, description="Kunde field paths to keep.")


class FeltpolicyOut(BaseModel):
    """A published preset version (or a grant's custom policy) and its field lists."""

    id: str
    beskrivelse: str
    kjoretoy: list[str]
    kunde: list[str]

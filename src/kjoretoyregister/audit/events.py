"""The audit event: one per answered request, handed to an :class:`AuditSink` before the answer.

The gateway builds an :class:`AuditEvent` after the upstream call (or after a gateway-made error
once the caller is authenticated) and awaits ``sink.record(event)``. Only when that returns does
the caller get the answer; if it raises :class:`AuditUnavailable` the caller gets a 503 and no
vehicle data (fail closed, as X-Road's security server does when it cannot log).

The events carry identifiers and identities in clear. Sinks decide how to store them (the durable
sink of the audit issue keeps identities as keyed pseudonyms). Nothing here may be logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Outcome = Literal["found", "not_found", "hidden", "error"]

FOUND: Outcome = "found"
NOT_FOUND: Outcome = "not_found"
HIDDEN: Outcome = "hidden"
ERROR: Outcome = "error"


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One requested identifier and what came back for it.

    ``identifier_type`` is ``kjennemerke``, ``kuid``, ``understellsnummer`` for lookups, or
    ``sok/<endpoint>`` for searches (then ``identifier`` is the validated query string).
    ``returned_identities`` are the fnr/orgnr of eier, medeier, leasingtaker and underenhet in
    the returned vehicles, in order of first appearance, without duplicates.
    ``returned_vehicles`` are the ``(kind, value)`` identifiers (kjennemerke, understellsnummer,
    kuid) of the returned vehicles, so innsyn by plate also finds the owner searches and
    VIN lookups that only returned that vehicle.
    """

    identifier_type: str
    identifier: str
    dtg: str | None
    outcome: Outcome
    returned_identities: tuple[str, ...] = ()
    returned_vehicles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Everything the audit log records about one answered request."""

    time: datetime
    correlation_id: str
    fiks_org_id: str
    integrasjon_id: str
    consumer_orgnr: str
    supplier_orgnr: str | None
    client_id: str
    endpoint: str  # route template, e.g. ".../bulk/kjennemerke"
    method: str
    items: tuple[AuditItem, ...]
    svv_status: int | None  # None when SVV was not called or did not answer
    svvguid: str | None
    latency_ms: float
    purpose: str | None
    case_reference: str | None
    http_status: int  # what the caller gets
    # A person acting (the portal's employee lookups: "person:<pseudonym>"); None for systems.
    # Appended last with a default so existing constructors keep working.
    actor: str | None = None
    # The grant's field policy id (``parkering@1``) when the answer was minimised.
    feltpolicy: str | None = None


class AuditUnavailable(Exception):
    """The sink could not make the event durable; the caller must get a 503 and no data."""


class AuditSink(Protocol):
    """Where the gateway hands its events. ``record`` returns only when the event is durable."""

    async def record(self, event: AuditEvent) -> None:
        """Store ``event``; raise :class:`AuditUnavailable` when that is not possible."""
        ...

"""Gateway events and audit-log reads as chain rows: identifiers sealed, subjects pseudonymised.

What the writer commits, built without a database: :func:`encode_event` for a lookup answered
by the gateway, :func:`access_entry` for a read of the audit log itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.chainwrite import Pending
from kjoretoyregister.audit.events import AuditEvent
from kjoretoyregister.audit.models import ACCESS, LOOKUP, REQUESTED, RETURNED
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.store.db import utcnow


def _cut(value: str | None, limit: int) -> str | None:
    # Columns have lengths; PostgreSQL would refuse a longer value and fail the whole batch.
    return None if value is None else value[:limit]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _blank_entry(kind: str, when: datetime, correlation_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(chain.STORED_FIELDS)
    entry.update(kind=kind, time=_aware(when), correlation_id=correlation_id[:64], item_count=0)
    return entry


def encode_event(event: AuditEvent, pz: Pseudonymizer) -> Pending:
    """Turn a gateway event into rows: identifiers sealed, subjects pseudonymised."""
    entry = _blank_entry(LOOKUP, event.time, event.correlation_id)
    entry.update(
        fiks_org_id=_cut(event.fiks_org_id, 64),
        integrasjon_id=_cut(event.integrasjon_id, 64),
        consumer_orgnr=_cut(event.consumer_orgnr, 16),
        supplier_orgnr=_cut(event.supplier_orgnr, 16),
        client_id=_cut(event.client_id, 200),
        endpoint=_cut(event.endpoint, 200),
        method=_cut(event.method, 10),
        svv_status=event.svv_status,
        svvguid=_cut(event.svvguid, 100),
        latency_us=round(event.latency_ms * 1000),
        purpose=_cut(event.purpose, 500),
        case_reference=_cut(event.case_reference, 200),
        http_status=event.http_status,
        item_count=len(event.items),
        # A person acting through the portal ("person:<pseudonym>"); None for systems.
        actor=_cut(event.actor, 200),
        feltpolicy=_cut(event.feltpolicy, 80),
    )
    pending = Pending(entry)
    sealed = pz.seal_many([item.identifier for item in event.items])
    for pos, item in enumerate(event.items):
        pending.items.append(
            {
                "pos": pos,
                "identifier_type": item.identifier_type[:64],
                "identifier_sealed": sealed[pos],
                "dtg": _cut(item.dtg, 40),
                "outcome": item.outcome[:12],
            }
        )
        asked = pz.subjects_of(item.identifier_type, item.identifier)
        subjects = {(REQUESTED, p) for p in asked}
        subjects |= {(RETURNED, pz.identity(i)) for i in item.returned_identities}
        # The vehicle a plate lookup asked for is already a subject; add only what it adds.
        # (Skipping the pair it asked with saves one HMAC of the ~6 per plate.)
        asked_pair = (item.identifier_type, item.identifier)
        returned = {
            pz.pseudonym(k, v) for k, v in item.returned_vehicles if (k, v) != asked_pair
        } - asked
        subjects |= {(RETURNED, p) for p in returned}
        pending.subjects.extend((pos, role, p) for role, p in sorted(subjects))
    return pending


def access_entry(
    actor: str, action: str, query: Mapping[str, Any], *, fiks_org_id: str | None = None
) -> Pending:
    """An access-log entry: ``actor`` did ``action`` on the audit log with filters ``query``.

    ``query`` must already have identifiers replaced by pseudonyms; it is stored as JSON.
    """
    entry = _blank_entry(ACCESS, utcnow(), uuid.uuid4().hex)
    entry.update(
        actor=actor[:200],
        action=action[:50],
        fiks_org_id=_cut(fiks_org_id, 64),
        query=orjson.dumps(dict(query), option=orjson.OPT_SORT_KEYS, default=str).decode(),
    )
    return Pending(entry)

"""Audit tests run on SQLite and on the real PostgreSQL (a fresh schema per test).

Identities are synthetic: fødselsnummer with month + 80 and valid check digits, orgnr with a
valid mod-11 digit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from kjoretoyregister.audit.events import AuditEvent, AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema, sqlite_database

SECRET = "test-audit-secret-0123456789abcdef"
FNR = "01819012365"  # synthetic: 01.01.1990 with month + 80, both check digits valid
FNR_OTHER = "02819012485"
ORGNR = "123456785"
PLATE = "CU11297"
ORG_A = "11111111-1111-4111-8111-111111111111"
ORG_B = "22222222-2222-4222-8222-222222222222"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_schema(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pz() -> Pseudonymizer:
    return Pseudonymizer(SECRET.encode())


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at the test database with the test secret."""
    monkeypatch.setenv("KJR_DATABASE_URL", db_url)
    monkeypatch.setenv("KJR_AUDIT_SECRET", SECRET)
    return db_url


def make_event(
    *,
    org: str = ORG_A,
    integrasjon: str = "int-1",
    items: tuple[AuditItem, ...] | None = None,
    time: datetime | None = None,
    purpose: str | None = "parkeringsgebyr",
    **kw: Any,
) -> AuditEvent:
    """A gateway event with sensible defaults: one plate lookup that returned one owner."""
    if items is None:
        items = (AuditItem("kjennemerke", PLATE, None, "found", (FNR,)),)
    fields: dict[str, Any] = {
        "time": time or datetime.now(UTC),
        "correlation_id": uuid.uuid4().hex,
        "fiks_org_id": org,
        "integrasjon_id": integrasjon,
        "consumer_orgnr": "987654325",
        "supplier_orgnr": None,
        "client_id": "client-1",
        "endpoint": "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
        "method": "POST",
        "items": items,
        "svv_status": 200,
        "svvguid": "svv-guid-1",
        "latency_ms": 12.345,
        "purpose": purpose,
        "case_reference": "2026/123",
        "http_status": 200,
    }
    fields.update(kw)
    return AuditEvent(**fields)


EventFactory = Callable[..., AuditEvent]


@pytest.fixture
def event() -> EventFactory:
    return make_event


def count_threaded_commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batch sizes the writer commits the locking way in its thread, from now on (small
    batches are meant to commit on the event loop instead)."""
    from kjoretoyregister.audit.writer import DurableAuditSink

    sizes: list[int] = []
    real = DurableAuditSink._commit

    def counting(self: DurableAuditSink, events: Any, *rest: Any) -> None:
        sizes.append(len(events))
        real(self, events, *rest)

    monkeypatch.setattr(DurableAuditSink, "_commit", counting)
    return sizes

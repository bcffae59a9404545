"""The field policy an answer was cut to is stored in the entry, hashed, and shown by search.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture). Entries without a policy hash as they
did before the column existed, so chains written by earlier releases still verify.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from kjoretoyregister.audit import chain, query
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink

from .conftest import EventFactory

POLICIES = [None, "parkering@1", None, "egendefinert@0123456789ab"]


def _fill(engine: Engine, pz: Pseudonymizer, event: EventFactory) -> None:
    async def go() -> None:
        async with DurableAuditSink(engine, pz) as sink:
            for i, policy in enumerate(POLICIES):
                await sink.record(event(integrasjon=f"int-{i}", feltpolicy=policy))

    asyncio.run(go())


def _entries(engine: Engine, pz: Pseudonymizer) -> list[dict[str, Any]]:
    found = query.search(engine, pz, query.Filters(kind="lookup"), actor="test")
    return list(found)


def test_policy_is_stored_searchable_and_verifies(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    _fill(engine, pz, event)
    assert [e["feltpolicy"] for e in _entries(engine, pz)] == POLICIES
    assert "feltpolicy" in query.CSV_FIELDS
    report = verify(engine)
    assert report.ok, report.problems
    assert report.checked >= len(POLICIES)


def test_canonical_form_without_a_policy_is_unchanged() -> None:
    entry: dict[str, Any] = {f: f"v-{f}" for f in chain.ENTRY_FIELDS}
    entry["time"] = datetime(2026, 1, 1, tzinfo=UTC)
    before = chain.canonical(entry, [], [])
    assert chain.canonical({**entry, "feltpolicy": None}, [], []) == before
    assert chain.canonical({**entry, "feltpolicy": "parkering@1"}, [], []) != before


def test_policy_edited_by_sql_is_found(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """Claiming a policy that was not applied, or removing one that was, breaks the chain."""
    _fill(engine, pz, event)
    seqs = [e["seq"] for e in _entries(engine, pz)]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET feltpolicy = 'teknisk@1' WHERE seq = :s"), {"s": seqs[0]}
        )
        conn.execute(
            text("UPDATE audit_entry SET feltpolicy = NULL WHERE seq = :s"), {"s": seqs[1]}
        )
    report = verify(engine)
    assert not report.ok
    assert {seqs[0], seqs[1]} <= {p.seq for p in report.problems}

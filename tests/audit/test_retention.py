"""Retention: purge writes a checkpoint first, removes only old records from the chain's start,
and leaves a chain that verifies from its new anchor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from kjoretoyregister.audit import retention
from kjoretoyregister.audit.events import AuditEvent
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.cli import app

from .conftest import EventFactory

runner = CliRunner()
NOW = datetime.now(UTC)


def _record(engine: Engine, pz: Pseudonymizer, events: list[AuditEvent]) -> None:
    async def go() -> None:
        async with DurableAuditSink(engine, pz) as sink:
            for ev in events:
                await sink.record(ev)

    asyncio.run(go())


def test_purge_keeps_the_chain_verifiable(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    old = [event(time=NOW - timedelta(days=400 - i)) for i in range(4)]
    _record(engine, pz, old[:1])
    early = tmp_path / "early.json"
    runner.invoke(app, ["audit", "checkpoint", "export", "--out", str(early)])
    _record(engine, pz, [*old[1:], event(time=NOW - timedelta(days=3)), event(time=NOW)])
    before = tmp_path / "before.json"
    runner.invoke(app, ["audit", "checkpoint", "export", "--out", str(before)])

    result = runner.invoke(app, ["audit", "purge", "--yes"])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.output)
    assert out["removed"] == 4 and out["anchor_seq"] == 4
    assert out["checkpoint"]["reason"] == "purge" and out["checkpoint"]["seq"] == 6

    with engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_entry ORDER BY seq"))]
        assert (
            conn.execute(text("SELECT count(*) FROM audit_item WHERE entry_seq <= 4")).scalar() == 0
        )
    assert seqs == [5, 6, 7]  # two kept lookups and the purge's own access entry
    report = verify(engine)
    assert report.ok and report.base_seq == 4 and report.checked == 3

    assert runner.invoke(app, ["audit", "verify", "--against", str(before)]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", "--against", str(early)])
    assert result.exit_code == 0 and "predates the retention anchor" in result.output

    _record(engine, pz, [event()])
    assert verify(engine).ok
    again = retention.purge(engine, retention_days=365, actor="test")
    assert again.removed == 0 and again.checkpoint is None


def test_purge_in_chunks_verifies_after_each(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """A large purge goes in chunks; the anchor moves with each, so the chain always verifies."""
    _record(engine, pz, [event(time=NOW - timedelta(days=500)) for _ in range(7)] + [event()])
    result = retention.purge(engine, retention_days=30, actor="test", chunk=3)
    assert result.removed == 7 and result.anchor_seq == 7
    report = verify(engine)
    assert report.ok and report.base_seq == 7 and report.checked == 2


def test_purge_never_removes_recent_records(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """An old-stamped entry after a recent one (clock skew between instances) stays, and so
    does everything after the first recent one."""
    _record(
        engine,
        pz,
        [
            event(time=NOW - timedelta(days=500)),
            event(time=NOW),
            event(time=NOW - timedelta(days=500)),
        ],
    )
    result = retention.purge(engine, retention_days=30, actor="test")
    assert result.removed == 1
    assert verify(engine).ok


def test_deleting_the_anchor_is_not_hidden(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """Removing the first kept record after a purge breaks the link to the anchor."""
    _record(engine, pz, [event(time=NOW - timedelta(days=500)), event(), event()])
    retention.purge(engine, retention_days=30, actor="test", chunk=1)
    with engine.begin() as conn:
        for table in ("audit_subject", "audit_item"):
            conn.execute(text(f"DELETE FROM {table} WHERE entry_seq = 2"))  # noqa: S608
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    report = verify(engine)
    assert not report.ok and 2 in {p.seq for p in report.problems}

"""No identifiers in operational logs: recording (also when it fails), searching, exporting and
innsyn log route templates, counts and error types — never a plate, fnr or orgnr."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditItem, AuditUnavailable
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.cli import app
from kjoretoyregister.logs import configure_logging

from .conftest import FNR, ORGNR, PLATE, EventFactory

FORBIDDEN = (FNR, PLATE, "11297", ORGNR)


async def _record_with_a_failure(engine: Engine, pz: Pseudonymizer, event: EventFactory) -> None:
    items = (
        AuditItem("kjennemerke", PLATE, None, "found", (FNR, ORGNR)),
        AuditItem("sok/fodselsnummer", f"fodselsnummer={FNR}", None, "error"),
    )
    async with DurableAuditSink(engine, pz) as sink:
        await sink.record(event(items=items))
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_chain_head RENAME TO audit_chain_head_gone"))
        with pytest.raises(AuditUnavailable):
            await sink.record(event(items=items))
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_chain_head_gone RENAME TO audit_chain_head"))


def test_no_identifiers_in_logs(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    asyncio.run(_record_with_a_failure(engine, pz, event))
    list(query.search(engine, pz, query.Filters(identifier=FNR), actor="t"))
    query.innsyn(engine, pz, "kjennemerke", PLATE, actor="t")
    runner = CliRunner()
    stderr = ""
    for args in (
        ["audit", "innsyn", "--fodselsnummer", FNR],
        ["audit", "export", "--identifier", PLATE, "--format", "csv"],
        ["audit", "search", "--identifier", ORGNR],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        stderr += getattr(result, "stderr", "")
    logs = capsys.readouterr().err + caplog.text + stderr
    assert "audit_commit_failed" in logs  # the failure was logged, so logs were captured
    leaked = [value for value in FORBIDDEN if value in logs]
    assert leaked == [], f"identifiers in operational logs: {leaked}"

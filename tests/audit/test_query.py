"""Reading the audit log: search/export by filters and identifier, innsyn, usage; every read
is itself an access entry in the chain."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from kjoretoyregister.audit import query
from kjoretoyregister.audit.events import AuditEvent, AuditItem
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.cli import app

from .conftest import FNR, FNR_OTHER, ORG_A, ORG_B, ORGNR, PLATE, EventFactory

runner = CliRunner()
T0 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def _record(engine: Engine, pz: Pseudonymizer, events: list[AuditEvent]) -> None:
    async def go() -> None:
        async with DurableAuditSink(engine, pz) as sink:
            for ev in events:
                await sink.record(ev)

    asyncio.run(go())


def _scenario(engine: Engine, pz: Pseudonymizer, event: EventFactory) -> None:
    """Org A looks up a plate owned by FNR, org B searches by orgnr, org A a plate in October."""
    _record(
        engine,
        pz,
        [
            event(org=ORG_A, integrasjon="int-a", time=T0),
            event(
                org=ORG_B,
                integrasjon="int-b",
                time=T0 + timedelta(days=1),
                purpose="tauing",
                endpoint="/rest/distribusjon/kjoretoy/v2.0/sok/organisasjonsnummer",
                method="GET",
                items=(
                    AuditItem(
                        "sok/organisasjonsnummer", f"organisasjonsnummer={ORGNR}", None, "found"
                    ),
                ),
            ),
            event(
                org=ORG_A,
                integrasjon="int-a2",
                time=T0 - timedelta(days=10),
                items=(
                    AuditItem("kjennemerke", "AB12345", None, "found", (FNR_OTHER,)),
                    AuditItem("kuid", "1234567890", None, "not_found"),
                ),
            ),
        ],
    )


def _access_entries(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, query FROM audit_entry WHERE kind = 'access' ORDER BY seq")
        ).all()
    return [(r[1], r[2]) for r in rows]


def test_search_filters_and_audits_itself(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    """Org, integration, time and identifier filters combine; the read lands in the chain
    with the identifier as a pseudonym only."""
    _scenario(engine, pz, event)
    by_org = list(
        query.search(engine, pz, query.Filters(fiks_org_id=ORG_A, kind="lookup"), actor="t")
    )
    assert [e["integrasjon_id"] for e in by_org] == ["int-a", "int-a2"]
    assert by_org[1]["items"][0] == {
        "identifier_type": "kjennemerke",
        "identifier": "AB12345",
        "dtg": None,
        "outcome": "found",
        "returned_identities": 1,
    }
    in_nov = query.Filters(
        since=T0 - timedelta(days=2), until=T0 + timedelta(days=30), kind="lookup"
    )
    assert len(list(query.search(engine, pz, in_nov, actor="t"))) == 2
    by_plate = query.Filters(identifier="cu 11297", kind="lookup")
    assert [e["fiks_org_id"] for e in query.search(engine, pz, by_plate, actor="t")] == [ORG_A]
    by_owner = query.Filters(identifier=FNR_OTHER, kind="lookup")
    assert [e["integrasjon_id"] for e in query.search(engine, pz, by_owner, actor="t")] == [
        "int-a2"
    ]
    by_int = query.Filters(integrasjon_id="int-b", kind="lookup")
    assert [e["purpose"] for e in query.search(engine, pz, by_int, actor="t")] == ["tauing"]

    logged = _access_entries(engine)
    assert len(logged) == 5 and all(action == "search" for action, _ in logged)
    assert all(FNR_OTHER not in q and "11297" not in q for _, q in logged)
    assert verify(engine).ok


def test_export_jsonl_and_csv(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: object
) -> None:
    """JSONL has one entry per line with nested items; CSV one row per item."""
    _scenario(engine, pz, event)
    result = runner.invoke(app, ["audit", "export", "--format", "jsonl", "--org", ORG_A])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.output.splitlines()]
    assert [len(e["items"]) for e in lines] == [1, 2]
    result = runner.invoke(app, ["audit", "export", "--format", "csv", "--org", ORG_A])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["identifier"] for r in rows] == [PLATE, "AB12345", "1234567890"]
    assert rows[0]["latency_ms"] == "12.345"
    assert [a for a, _ in _access_entries(engine)] == ["export-jsonl", "export-csv"]


def test_search_cli_table_and_json(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    _scenario(engine, pz, event)
    result = runner.invoke(app, ["audit", "search", "--identifier", ORGNR, "--json"])
    assert result.exit_code == 0, result.output
    assert [orjson.loads(x)["fiks_org_id"] for x in result.output.splitlines()] == [ORG_B]
    result = runner.invoke(app, ["audit", "search", "--org", ORG_B])
    assert result.exit_code == 0 and "tauing" in result.output
    result = runner.invoke(app, ["audit", "search", "--kind", "access", "--json"])
    # The two reads before, and this one: it is recorded before it reads.
    assert len(result.output.splitlines()) == 3


def test_search_cli_limit_shows_the_newest_first(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--limit N is the latest N entries, newest first (like `admin log`), not the oldest N."""
    _record(
        engine,
        pz,
        [
            event(org=ORG_A, integrasjon=f"int-{n}", time=T0 + timedelta(minutes=n))
            for n in range(5)
        ],
    )
    result = runner.invoke(app, ["audit", "search", "--limit", "2", "--json"])
    assert result.exit_code == 0, result.output
    entries = [orjson.loads(x) for x in result.output.splitlines()]
    assert [e["integrasjon_id"] for e in entries] == ["int-4", "int-3"]
    assert entries[0]["seq"] > entries[1]["seq"]
    monkeypatch.setattr(query, "PAGE", 2)  # several pages, read newest to oldest
    everything = runner.invoke(app, ["audit", "search", "--limit", "500", "--json"])
    seqs = [orjson.loads(x)["seq"] for x in everything.output.splitlines()]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 5


def test_innsyn_by_fodselsnummer_orgnr_and_kjennemerke(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    """Who looked up data about me, when, and why: the owner of a looked-up plate is found."""
    _scenario(engine, pz, event)
    result = runner.invoke(app, ["audit", "innsyn", "--fodselsnummer", FNR, "--json"])
    assert result.exit_code == 0, result.output
    lookups = orjson.loads(result.output)["lookups"]
    assert [(x["fiks_org_id"], x["role"], x["purpose"]) for x in lookups] == [
        (ORG_A, "returned", "parkeringsgebyr")
    ]
    assert lookups[0]["case_reference"] == "2026/123" and lookups[0]["integrasjon_id"] == "int-a"
    orgnr = orjson.loads(runner.invoke(app, ["audit", "innsyn", "--orgnr", ORGNR, "--json"]).output)
    assert [(x["fiks_org_id"], x["role"]) for x in orgnr["lookups"]] == [(ORG_B, "requested")]
    plate = runner.invoke(app, ["audit", "innsyn", "--kjennemerke", "cu-11297"])
    assert (
        plate.exit_code == 0 and "1 lookup(s)" in plate.output and "parkeringsgebyr" in plate.output
    )
    assert runner.invoke(app, ["audit", "innsyn"]).exit_code == 2
    assert [a for a, _ in _access_entries(engine)] == ["innsyn", "innsyn", "innsyn"]


def test_usage_per_org_per_month(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    """Requests and items per organisation in the month (access entries do not count)."""
    _scenario(engine, pz, event)
    result = runner.invoke(app, ["audit", "usage", "--month", "2026-11", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["fiks_org_id"]: (r["requests"], r["items"]) for r in orjson.loads(result.output)}
    assert rows == {ORG_A: (1, 1), ORG_B: (1, 1)}
    october = orjson.loads(
        runner.invoke(app, ["audit", "usage", "--month", "2026-10", "--json"]).output
    )
    assert [(r["fiks_org_id"], r["items"]) for r in october] == [(ORG_A, 2)]
    assert runner.invoke(app, ["audit", "usage", "--month", "2026-13"]).exit_code == 2
    assert "2026-11" in runner.invoke(app, ["audit", "usage", "--month", "2026-11"]).output

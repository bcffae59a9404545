"""`audit verify` finds every kind of tampering done with raw SQL, says where, and exits 1;
an exported checkpoint catches even a chain that was rewritten with valid hashes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from sqlalchemy import Connection, Engine, Table, select, text
from typer.testing import CliRunner

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.models import AuditEntry
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.cli import app

from .conftest import EventFactory

runner = CliRunner()
ENTRY = cast(Table, AuditEntry.__table__)
N = 6


def _fill(engine: Engine, pz: Pseudonymizer, event: EventFactory, n: int = N) -> None:
    async def go() -> None:
        async with DurableAuditSink(engine, pz) as sink:
            for i in range(n):
                await sink.record(event(integrasjon=f"int-{i}"))

    asyncio.run(go())


def _row(conn: Connection, seq: int) -> dict[str, Any]:
    # Through the typed table, so times come back as datetimes on SQLite too.
    return dict(conn.execute(select(ENTRY).where(ENTRY.c.seq == seq)).mappings().one())


def _delete(conn: Connection, seq: int) -> None:
    for table in ("audit_subject", "audit_item"):
        conn.execute(text(f"DELETE FROM {table} WHERE entry_seq = :s"), {"s": seq})  # noqa: S608
    conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": seq})


def _insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(ENTRY.insert(), [row])


def _set(conn: Connection, seq: int, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(text(f"UPDATE audit_entry SET {sets} WHERE seq = :seq"), {**values, "seq": seq})  # noqa: S608


def changed_field(conn: Connection) -> int:
    conn.execute(text("UPDATE audit_entry SET purpose = 'innkreving' WHERE seq = 3"))
    return 3


def changed_item(conn: Connection) -> int:
    conn.execute(text("UPDATE audit_item SET outcome = 'not_found' WHERE entry_seq = 4"))
    return 4


def removed_subject(conn: Connection) -> int:
    conn.execute(text("DELETE FROM audit_subject WHERE entry_seq = 2 AND role = 'r'"))
    return 2


def deleted_middle(conn: Connection) -> int:
    _delete(conn, 3)
    return 3


def deleted_tail(conn: Connection) -> int:
    _delete(conn, N)
    return N


def inserted_at_end(conn: Connection) -> int:
    """A forged entry with an honestly computed hash appended after the head."""
    last = _row(conn, N)
    forged = {**_row(conn, 2), "seq": N + 1, "prev_hash": last["hash"]}
    forged["hash"] = chain.link(forged["prev_hash"], chain.canonical(forged, [], []))
    _insert(conn, forged)
    return N + 1


def reordered(conn: Connection) -> int:
    """Entries 2 and 3 swap places (all their columns but seq)."""
    a, b = _row(conn, 2), _row(conn, 3)
    _set(conn, 2, {k: v for k, v in b.items() if k != "seq"})
    _set(conn, 3, {k: v for k, v in a.items() if k != "seq"})
    return 2


def orphan_rows(conn: Connection) -> int:
    """Item and subject rows for an entry that was never written (no foreign key stops it)."""
    conn.execute(
        text(
            "INSERT INTO audit_item (entry_seq, pos, identifier_type, identifier_sealed, "
            "outcome) VALUES (99, 0, 'kjennemerke', 'x', 'found')"
        )
    )
    conn.execute(
        text("INSERT INTO audit_subject (entry_seq, pos, role, pseudonym) VALUES (99, 0, 'r', :p)"),
        {"p": "a" * 64},
    )
    return 99


TAMPERINGS: list[Callable[[Connection], int]] = [
    changed_field,
    changed_item,
    removed_subject,
    deleted_middle,
    deleted_tail,
    inserted_at_end,
    reordered,
    orphan_rows,
]


def test_intact_chain_verifies_with_exit_0(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    _fill(engine, pz, event)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"to head {N}: intact" in result.output


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_tampering_is_found_and_located(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    tamper: Callable[[Connection], int],
) -> None:
    """Each edit by raw SQL makes verify exit 1 and name the seq where it happened."""
    _fill(engine, pz, event)
    with engine.begin() as conn:
        where = tamper(conn)
    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.output)
    assert not report["ok"]
    assert where in {p["seq"] for p in report["problems"]}, report["problems"]


def _rewrite_chain(engine: Engine, from_seq: int) -> None:
    """What an attacker with write access can do: change a record and re-hash everything after."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET purpose = 'rewritten' WHERE seq = :s"), {"s": from_seq}
        )
        prev = _row(conn, from_seq - 1)["hash"]
        head = int(conn.execute(text("SELECT seq FROM audit_chain_head")).scalar_one())
        for seq in range(from_seq, head + 1):
            row = _row(conn, seq)
            items = (
                conn.execute(text("SELECT * FROM audit_item WHERE entry_seq = :s"), {"s": seq})
                .mappings()
                .all()
            )
            subjects = conn.execute(
                text("SELECT pos, role, pseudonym FROM audit_subject WHERE entry_seq = :s"),
                {"s": seq},
            ).all()
            digest = chain.link(prev, chain.canonical(row, items, [tuple(s) for s in subjects]))
            _set(conn, seq, {"prev_hash": prev, "hash": digest})
            prev = digest
        conn.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": prev})


def test_exported_checkpoint_catches_a_rewritten_chain(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    """The chain alone cannot show a full re-hash; a checkpoint kept elsewhere can."""
    _fill(engine, pz, event)
    cp_file = tmp_path / "checkpoint.json"
    result = runner.invoke(app, ["audit", "checkpoint", "export", "--out", str(cp_file)])
    assert result.exit_code == 0, result.output
    cp = orjson.loads(cp_file.read_bytes())
    assert cp["seq"] == N and cp["entry_count"] == N and len(cp["hash"]) == 64
    _fill(engine, pz, event, 2)  # the chain grows after the checkpoint: still consistent
    assert runner.invoke(app, ["audit", "verify", "--against", str(cp_file)]).exit_code == 0

    _rewrite_chain(engine, 2)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0  # self-consistent again
    result = runner.invoke(app, ["audit", "verify", "--against", str(cp_file)])
    assert result.exit_code == 1
    assert f"seq {N}" in result.output and "checkpoint" in result.output


def test_checkpoint_create_prints_the_head(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    _fill(engine, pz, event, 2)
    result = runner.invoke(app, ["audit", "checkpoint", "create"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["seq"] == 2

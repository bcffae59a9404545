"""Verify the stored audit chain (and optionally an exported checkpoint) — the I/O around
:mod:`~kjoretoyregister.audit.chain`.

Reads the whole chain in ``seq`` pages inside one read transaction (a consistent snapshot:
``REPEATABLE READ`` on PostgreSQL, a deferred transaction in WAL mode on SQLite), recomputes
every hash from the stored rows, and reports each problem with the seq it was found at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, select, text

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.models import AuditChainHead, AuditEntry, AuditItem, AuditSubject
from kjoretoyregister.store.db import READ_ONLY, hex64_sql

_ENTRY = cast(Table, AuditEntry.__table__)
_ITEM = cast(Table, AuditItem.__table__)
_SUBJECT = cast(Table, AuditSubject.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)

PAGE = 1000


@dataclass(slots=True)
class Report:
    """What :func:`verify` found."""

    checked: int = 0
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    base_seq: int = 0
    base_hash: str = chain.GENESIS
    problems: list[chain.Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "base_seq": self.base_seq,
            "problems": [
                {"seq": p.seq, "kind": p.kind, "message": p.message} for p in self.problems
            ],
            "notes": self.notes,
        }


def read_transaction(engine: Engine) -> Connection:
    """A connection for a consistent read: a snapshot that does not block writers."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    else:
        conn = conn.execution_options(**READ_ONLY)
    return conn


def _records(conn: Connection) -> Iterator[chain.Record]:
    last = -1
    while True:
        rows = conn.execute(
            select(_ENTRY).where(_ENTRY.c.seq > last).order_by(_ENTRY.c.seq).limit(PAGE)
        ).all()
        if not rows:
            return
        lo, hi = rows[0].seq, rows[-1].seq
        items: dict[int, list[Mapping[Any, Any]]] = {}
        for item in conn.execute(select(_ITEM).where(_ITEM.c.entry_seq.between(lo, hi))):
            items.setdefault(item.entry_seq, []).append(item._mapping)
        subjects: dict[int, list[tuple[int, str, str]]] = {}
        for s in conn.execute(select(_SUBJECT).where(_SUBJECT.c.entry_seq.between(lo, hi))):
            subjects.setdefault(s.entry_seq, []).append((s.pos, s.role, s.pseudonym))
        for row in rows:
            content = chain.canonical(
                row._mapping, items.get(row.seq, []), subjects.get(row.seq, [])
            )
            yield chain.Record(row.seq, row.prev_hash, row.hash, content)
        last = hi


#: The derived pseudonym index must say exactly what the chained subjects say up to its
#: mark: a row removed from it would hide a lookup from "who looked me up" while every hash
#: still holds, so verify compares the two (both directions, first problems only).
_INDEX_MISSING = (
    "SELECT s.entry_seq FROM audit_subject s WHERE s.entry_seq <= "
    "(SELECT seq FROM audit_index_mark WHERE id = 1) AND NOT EXISTS (SELECT 1 FROM "
    "audit_subject_index i WHERE i.key = {key} AND i.entry_seq = s.entry_seq "
    "AND i.pos = s.pos AND i.role = s.role) "
    "GROUP BY s.entry_seq ORDER BY s.entry_seq LIMIT 20"
)
_INDEX_EXTRA = (
    "SELECT i.entry_seq FROM audit_subject_index i WHERE NOT EXISTS (SELECT 1 FROM "
    "audit_subject s WHERE s.entry_seq = i.entry_seq AND s.pos = i.pos AND s.role = i.role "
    "AND {key} = i.key) "
    "GROUP BY i.entry_seq ORDER BY i.entry_seq LIMIT 20"
)


def _check_subject_index(conn: Connection) -> list[chain.Problem]:
    key = hex64_sql(conn.dialect.name, "s.pseudonym")
    missing, extra = (text(sql.format(key=key)) for sql in (_INDEX_MISSING, _INDEX_EXTRA))
    problems = [
        chain.Problem(
            int(seq), "index", f"seq {seq}: a subject of this entry is missing from the index"
        )
        for seq in conn.execute(missing).scalars()
    ]
    problems.extend(
        chain.Problem(
            int(seq),
            "index",
            f"seq {seq}: the index names this entry for a pseudonym its subjects do not hold",
        )
        for seq in conn.execute(extra).scalars()
    )
    return problems


#: Item and subject rows carry no foreign key (PostgreSQL's per-row checks doubled a bulk
#: commit, migration f7a4d2c9e634): a row whose entry is missing is found here instead. The
#: walk reads rows only by their entries' seqs, so it would not see one.
_ORPHANS = (
    "SELECT DISTINCT r.entry_seq FROM {table} r WHERE NOT EXISTS "
    "(SELECT 1 FROM audit_entry e WHERE e.seq = r.entry_seq) ORDER BY r.entry_seq LIMIT 20"
)


def _check_orphans(conn: Connection) -> list[chain.Problem]:
    return [
        chain.Problem(
            int(seq), "orphan", f"seq {seq}: {table} holds rows of an entry that does not exist"
        )
        for table in ("audit_item", "audit_subject")
        for seq in conn.execute(text(_ORPHANS.format(table=table))).scalars()
    ]


def _hash_at(conn: Connection, seq: int) -> str | None:
    value = conn.execute(select(_ENTRY.c.hash).where(_ENTRY.c.seq == seq)).scalar_one_or_none()
    return None if value is None else str(value)


def verify(engine: Engine, against: Mapping[str, Any] | None = None) -> Report:
    """Walk the whole chain; with ``against`` (an exported checkpoint) also compare it.

    Args:
        engine: the audit database.
        against: a checkpoint as exported by ``audit checkpoint export`` (``seq``, ``hash``).

    Returns:
        A :class:`Report`; ``report.ok`` is False if anything was tampered with.
    """
    report = Report()
    with read_transaction(engine) as conn, conn.begin():
        head = conn.execute(select(_HEAD).where(_HEAD.c.id == 1)).one_or_none()
        if head is None:
            report.problems.append(chain.Problem(None, "head", "the chain head row is missing"))
            return report
        report.head_seq, report.head_hash = int(head.seq), str(head.hash)
        report.base_seq, report.base_hash = int(head.base_seq), str(head.base_hash)
        walked = chain.Walk(report.base_seq, report.base_hash)
        report.problems.extend(
            chain.walk(_records(conn), report.base_seq, report.base_hash, walked)
        )
        report.checked = walked.checked
        report.problems.extend(chain.check_head(walked, report.head_seq, report.head_hash))
        report.problems.extend(_check_subject_index(conn))
        report.problems.extend(_check_orphans(conn))
        if against is not None:
            _compare_checkpoint(conn, report, against)
    return report


def _compare_checkpoint(conn: Connection, report: Report, cp: Mapping[str, Any]) -> None:
    try:
        seq, digest = int(cp["seq"]), str(cp["hash"])
    except (KeyError, TypeError, ValueError):
        report.problems.append(chain.Problem(None, "checkpoint", "checkpoint file lacks seq/hash"))
        return
    if seq > report.head_seq:
        report.problems.append(
            chain.Problem(
                seq,
                "checkpoint",
                f"checkpoint is at seq {seq} but the chain ends at {report.head_seq} "
                "(records after the checkpoint's head were removed)",
            )
        )
    elif seq == report.base_seq:
        if digest != report.base_hash:
            report.problems.append(
                chain.Problem(seq, "checkpoint", f"seq {seq}: anchor hash differs from checkpoint")
            )
    elif seq < report.base_seq:
        report.notes.append(
            f"checkpoint at seq {seq} predates the retention anchor at seq {report.base_seq}; "
            "only the chain after the anchor was verified"
        )
    else:
        stored = _hash_at(conn, seq)
        if stored != digest:
            report.problems.append(
                chain.Problem(
                    seq,
                    "checkpoint",
                    f"seq {seq}: stored hash differs from the checkpoint (chain rewritten)",
                )
            )

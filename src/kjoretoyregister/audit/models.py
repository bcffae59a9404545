"""Audit tables on the shared :class:`~kjoretoyregister.store.db.Base`.

* ``audit_entry`` — one row per answered request (``kind = "lookup"``) or per read of the audit
  log itself (``kind = "access"``), chained by ``prev_hash``/``hash`` in ``seq`` order.
* ``audit_item`` — one row per requested identifier of a lookup: its type, the identifier
  sealed (AES-GCM, see :mod:`~kjoretoyregister.audit.pseudonyms`), the dtg and the outcome.
* ``audit_subject`` — keyed pseudonyms of the persons/organisations/vehicles an item is
  about: role ``q`` for what was asked for, ``r`` for what the answer returned (owners, co-owners,
  lessees, and the returned vehicles' plate, VIN and kuid). Part of the chained record.
* ``audit_subject_index`` — ``(key, entry_seq, pos, role)`` of ``audit_subject`` (key: the
  pseudonym's first 64 bits), up to the seq in ``audit_index_mark``: what innsyn and the
  identifier filter look up. It is derived and maintained after the answer
  (:mod:`~kjoretoyregister.audit.subject_index`); readers add the subjects of the entries
  after the mark, which the chained table's key finds by seq.
* ``audit_chain_head`` — the single row (id 1) writers lock to append: last seq and hash, and
  the anchor (``base_seq``, ``base_hash``) the chain starts from after a purge.
* ``audit_checkpoint`` — periodic and pre-purge snapshots of the head (seq, hash, count).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from kjoretoyregister.store.db import Base, BigIntPK

#: Entry kinds (``audit_entry.kind``).
LOOKUP = "lookup"
ACCESS = "access"

#: Subject roles (``audit_subject.role``): asked for, or returned in the answer.
REQUESTED = "q"
RETURNED = "r"


class AuditEntry(Base):
    """One chained audit record: a lookup through the gateway, or a read of the audit log."""

    __tablename__ = "audit_entry"

    # Assigned by the writer under the chain lock (head seq + 1), never by the database, so the
    # order is the chain's order on every backend and across gateway instances.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    time: Mapped[datetime]
    correlation_id: Mapped[str] = mapped_column(String(64))
    fiks_org_id: Mapped[str | None] = mapped_column(String(64))
    integrasjon_id: Mapped[str | None] = mapped_column(String(64))
    consumer_orgnr: Mapped[str | None] = mapped_column(String(16))
    supplier_orgnr: Mapped[str | None] = mapped_column(String(16))
    client_id: Mapped[str | None] = mapped_column(String(200))
    endpoint: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(10))
    svv_status: Mapped[int | None] = mapped_column(Integer)
    svvguid: Mapped[str | None] = mapped_column(String(100))
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    purpose: Mapped[str | None] = mapped_column(String(500))
    case_reference: Mapped[str | None] = mapped_column(String(200))
    http_status: Mapped[int | None] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    # Access entries: who read the log, what they did, and the filters (identifiers in the
    # filters are replaced by their pseudonyms before they get here).
    actor: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str | None] = mapped_column(String(50))
    query: Mapped[str | None] = mapped_column(Text)
    # The grant's field policy that shaped the answer (``parkering@1``); None = passthrough.
    feltpolicy: Mapped[str | None] = mapped_column(String(80))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entry_time", "time"),
        Index("ix_audit_entry_fiks_org_id_time", "fiks_org_id", "time"),
    )


class AuditItem(Base):
    """One requested identifier of a lookup entry."""

    __tablename__ = "audit_item"

    # No foreign key to audit_entry: PostgreSQL checks one per row with a trigger, which
    # doubled a bulk answer's inserts; verify reports rows without an entry instead.
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pos: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    identifier_type: Mapped[str] = mapped_column(String(64))
    identifier_sealed: Mapped[str] = mapped_column(Text)
    dtg: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12))


class AuditSubject(Base):
    """A keyed pseudonym of someone or something an item is about."""

    __tablename__ = "audit_subject"

    # No foreign key to audit_entry: PostgreSQL checks one per row with a trigger, which
    # doubled a bulk answer's inserts; verify reports rows without an entry instead.
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pos: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(1), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditSubjectIndex(Base):
    """Which entries name a pseudonym: ``audit_subject`` by pseudonym, up to the mark.

    Kept out of the commit every answer waits for: each random pseudonym dirties a leaf page
    of its own, which cost a 1,000-plate request ~38 ms on SQLite (docs/performance.md).
    """

    __tablename__ = "audit_subject_index"

    # The pseudonym's first 64 bits (store.db.hex64): a quarter of the row, so a step dirties
    # about half the pages the full text key did. Readers confirm every hit against the
    # chained subject's full pseudonym, so a shared prefix can never name a wrong entry.
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The chained row's own key with the pseudonym: innsyn confirms a hit with one probe of
    # audit_subject's primary key, not a scan of the entry's (up to ~5,000) subjects.
    pos: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(1), primary_key=True)

    __table_args__ = (
        # Retention deletes by seq.
        Index("ix_audit_subject_index_entry_seq", "entry_seq"),
        {"sqlite_with_rowid": False},
    )


class AuditIndexMark(Base):
    """The one row (id 1): every entry up to ``seq`` is in ``audit_subject_index``."""

    __tablename__ = "audit_index_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)


class AuditChainHead(Base):
    """The chain's head (always id 1); writers lock this row to append."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    base_seq: Mapped[int] = mapped_column(BigInteger)
    base_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A snapshot of the chain head, to compare against later (export it off the host)."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created: Mapped[datetime]
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(BigInteger)
    base_seq: Mapped[int] = mapped_column(BigInteger)
    base_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # periodic | manual | purge


#: The Core tables, for the writer's and retention's fixed statements.
ENTRY_TABLE = cast(Table, AuditEntry.__table__)
ITEM_TABLE = cast(Table, AuditItem.__table__)
SUBJECT_TABLE = cast(Table, AuditSubject.__table__)
SUBJECT_INDEX_TABLE = cast(Table, AuditSubjectIndex.__table__)
INDEX_MARK_TABLE = cast(Table, AuditIndexMark.__table__)
HEAD_TABLE = cast(Table, AuditChainHead.__table__)
CHECKPOINT_TABLE = cast(Table, AuditCheckpoint.__table__)

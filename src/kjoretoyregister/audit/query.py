"""Reading the audit log: search/export (streamed), innsyn, usage — each read itself audited.

Every public reader first appends an *access* entry to the chain (who, what, which filters,
with identifiers replaced by their pseudonyms) and commits it; only then does it read. If the
access cannot be recorded, nothing is read (fail closed, like the gateway).

Identifier filters work on pseudonyms: the value given is pseudonymised with the server key
(for every plausible kind, or the kind given) and matched against the subject pseudonyms
(:func:`~kjoretoyregister.audit.subject_index.entries_naming`: the index and its tail); requested
identifiers are opened (unsealed) only for display.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Select, Table, and_, func, select

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.audit.models import (
    LOOKUP,
    REQUESTED,
    AuditEntry,
    AuditItem,
    AuditSubject,
)
from kjoretoyregister.audit.pseudonyms import Pseudonymizer, SealError
from kjoretoyregister.audit.subject_index import entries_naming, read_mark, subject_rows
from kjoretoyregister.audit.verify import read_transaction
from kjoretoyregister.audit.writer import access_entry, record_sync
from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

_ENTRY = cast(Table, AuditEntry.__table__)
_ITEM = cast(Table, AuditItem.__table__)
_SUBJECT = cast(Table, AuditSubject.__table__)

PAGE = 500
INNSYN_KINDS = ("fodselsnummer", "organisasjonsnummer", "kjennemerke")


@dataclass(frozen=True, slots=True)
class Filters:
    """Search filters; all optional, combined with AND. Times are inclusive/exclusive bounds."""

    fiks_org_id: str | None = None
    integrasjon_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    identifier: str | None = None
    identifier_kind: str | None = None
    kind: str | None = None  # lookup | access | None for both
    after_seq: int | None = None  # keyset paging: only entries after this seq

    def for_log(self, pz: Pseudonymizer) -> dict[str, Any]:
        """The filters as the access entry stores them: identifier replaced by pseudonyms."""
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "identifier"}
        if self.identifier is not None:
            out["identifier_pseudonyms"] = sorted(
                pz.candidates(self.identifier, self.identifier_kind)
            )
        return out


def _audit_access(
    engine: Engine, actor: str, action: str, query: Mapping[str, Any], org: str | None
) -> None:
    try:
        record_sync(engine, access_entry(actor, action, query, fiks_org_id=org))
    except Exception as exc:
        log.error("audit_access_log_failed", error=type(exc).__name__, action=action)
        raise AuditUnavailable("cannot record this read of the audit log") from exc


def _where(stmt: Select[Any], f: Filters, pz: Pseudonymizer, mark: int) -> Select[Any]:
    conds = []
    if f.kind:
        conds.append(_ENTRY.c.kind == f.kind)
    if f.after_seq:
        conds.append(_ENTRY.c.seq > f.after_seq)
    if f.fiks_org_id:
        conds.append(_ENTRY.c.fiks_org_id == f.fiks_org_id)
    if f.integrasjon_id:
        conds.append(_ENTRY.c.integrasjon_id == f.integrasjon_id)
    if f.since:
        conds.append(_ENTRY.c.time >= f.since)
    if f.until:
        conds.append(_ENTRY.c.time < f.until)
    if f.identifier:
        wanted = pz.candidates(f.identifier, f.identifier_kind)
        conds.append(_ENTRY.c.seq.in_(entries_naming(wanted, mark)))
    return stmt.where(and_(*conds)) if conds else stmt


def _open(pz: Pseudonymizer, sealed: str) -> str:
    try:
        return pz.open(sealed)
    except SealError:
        return "<sealed: key mismatch>"


def _entry_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("seq", *chain.STORED_FIELDS)}
    out["time"] = chain.format_time(row["time"])
    latency = out.pop("latency_us")
    out["latency_ms"] = None if latency is None else latency / 1000
    return out


def _iter(
    conn: Connection, f: Filters, pz: Pseudonymizer, limit: int | None, newest_first: bool
) -> Iterator[dict[str, Any]]:
    last: int | None = None
    sent = 0
    mark = read_mark(conn) if f.identifier else 0
    while limit is None or sent < limit:
        page = PAGE if limit is None else min(PAGE, limit - sent)
        stmt = select(_ENTRY)
        if last is not None:
            stmt = stmt.where(_ENTRY.c.seq < last if newest_first else _ENTRY.c.seq > last)
        order = _ENTRY.c.seq.desc() if newest_first else _ENTRY.c.seq
        rows = conn.execute(_where(stmt, f, pz, mark).order_by(order).limit(page)).all()
        if not rows:
            return
        seqs = [r.seq for r in rows]
        items: dict[int, list[dict[str, Any]]] = {}
        for it in conn.execute(
            select(_ITEM).where(_ITEM.c.entry_seq.in_(seqs)).order_by(_ITEM.c.pos)
        ):
            items.setdefault(it.entry_seq, []).append(
                {
                    "identifier_type": it.identifier_type,
                    "identifier": _open(pz, it.identifier_sealed),
                    "dtg": it.dtg,
                    "outcome": it.outcome,
                }
            )
        returned: dict[tuple[int, int], int] = {}
        for s in conn.execute(
            select(_SUBJECT.c.entry_seq, _SUBJECT.c.pos, func.count())
            .where(_SUBJECT.c.entry_seq.in_(seqs), _SUBJECT.c.role != REQUESTED)
            .group_by(_SUBJECT.c.entry_seq, _SUBJECT.c.pos)
        ):
            returned[(s[0], s[1])] = int(s[2])
        for row in rows:
            entry = _entry_dict(row._mapping)
            entry["items"] = items.get(row.seq, [])
            for pos, it in enumerate(entry["items"]):
                it["returned_identities"] = returned.get((row.seq, pos), 0)
            yield entry
            sent += 1
        last = seqs[-1]


def search(
    engine: Engine,
    pz: Pseudonymizer,
    filters: Filters,
    *,
    actor: str,
    action: str = "search",
    limit: int | None = None,
    newest_first: bool = False,
) -> Generator[dict[str, Any], None, None]:
    """Entries matching ``filters`` in chain order (or newest first), streamed page by page.

    ``newest_first`` with ``limit`` gives the latest ``limit`` entries, as a person at a
    terminal expects; exports keep chain order.

    The read is recorded (``action``) before the first row is produced; a generator, so the
    access entry is written when iteration starts.

    Raises:
        AuditUnavailable: the access entry could not be recorded; nothing is read.
    """
    _audit_access(engine, actor, action, filters.for_log(pz), filters.fiks_org_id)
    with read_transaction(engine) as conn, conn.begin():
        yield from _iter(conn, filters, pz, limit, newest_first)


def flatten(entry: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One CSV row per item (an entry without items gives one row with empty item fields)."""
    base = {k: v for k, v in entry.items() if k != "items"}
    items = entry.get("items") or [{}]
    for pos, item in enumerate(items):
        yield {
            **base,
            "item_pos": pos if item else None,
            "identifier_type": item.get("identifier_type"),
            "identifier": item.get("identifier"),
            "dtg": item.get("dtg"),
            "outcome": item.get("outcome"),
            "returned_identities": item.get("returned_identities"),
        }


CSV_FIELDS = (
    "seq",
    *(f for f in chain.STORED_FIELDS if f != "latency_us"),
    "latency_ms",
    "item_pos",
    "identifier_type",
    "identifier",
    "dtg",
    "outcome",
    "returned_identities",
)


def innsyn(
    engine: Engine, pz: Pseudonymizer, kind: str, value: str, *, actor: str
) -> list[dict[str, Any]]:
    """Who looked up data about a person, organisation or vehicle, when, and why.

    Args:
        kind: ``fodselsnummer``, ``organisasjonsnummer`` or ``kjennemerke``.
        value: the identifier (normalised the same way as at recording).

    Returns:
        One dict per (lookup, item) that named the subject, oldest first: time, fiks_org_id,
        org name (if Konfigurasjon knows it), integrasjon_id, consumer/supplier orgnr, endpoint,
        purpose, case_reference, role (``requested``/``returned``), outcome.
    """
    if kind not in INNSYN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(INNSYN_KINDS)}")
    pseudonym = pz.pseudonym(kind, value)
    _audit_access(engine, actor, "innsyn", {"kind": kind, "pseudonym": pseudonym}, None)
    return innsyn_rows(engine, pseudonym)


def own_innsyn(
    engine: Engine,
    pseudonym: str,
    *,
    actor: str,
    before_seq: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """A person's own innsyn ("Min innsyn"): every lookup that named them, newest first.

    ``pseudonym`` is the keyed pseudonym of the person's fødselsnummer, as the portal's
    login already holds it, so the clear fnr is not needed here. The read is recorded first
    (action ``min_innsyn``); ``before_seq``/``limit`` page through long histories.

    Raises:
        AuditUnavailable: the read could not be recorded; nothing is read.
    """
    _audit_access(engine, actor, "min_innsyn", {"pseudonym": pseudonym}, None)
    return innsyn_rows(engine, pseudonym, newest_first=True, before_seq=before_seq, limit=limit)


def innsyn_rows(
    engine: Engine,
    pseudonym: str,
    *,
    newest_first: bool = False,
    before_seq: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The (lookup, item) rows naming ``pseudonym``; callers record the read first."""
    with read_transaction(engine) as conn, conn.begin():
        stmt = _innsyn_stmt(pseudonym, read_mark(conn), newest_first, before_seq, limit)
        # Unpacked by position: a history is thousands of rows, and attribute access on Row
        # objects cost about a fifth of the whole read (docs/personvern.md).
        rows = conn.execute(stmt).all()
        names = org_names(conn, {r[2] for r in rows if r[2]})
        integrations = integration_names(conn, {r[3] for r in rows if r[3]})
    fmt = chain.format_time
    return [
        {
            "seq": seq,
            "time": fmt(time),
            "fiks_org_id": org,
            "org_navn": names.get(org or ""),
            "integrasjon_id": integ,
            "integrasjon_navn": integrations.get(integ or ""),
            "consumer_orgnr": consumer,
            "supplier_orgnr": supplier,
            "endpoint": endpoint,
            "purpose": purpose,
            "case_reference": case_reference,
            "actor": actor,
            "role": "requested" if role == REQUESTED else "returned",
            "outcome": outcome,
            "dtg": dtg,
        }
        for (
            seq,
            time,
            org,
            integ,
            consumer,
            supplier,
            endpoint,
            purpose,
            case_reference,
            actor,
            role,
            outcome,
            dtg,
        ) in rows
    ]


def _innsyn_stmt(
    pseudonym: str, mark: int, newest_first: bool, before_seq: int | None, limit: int | None
) -> Select[Any]:
    rows = subject_rows([pseudonym], mark).subquery("rows")
    rows_order = (
        (rows.c.entry_seq.desc(), rows.c.pos) if newest_first else (rows.c.entry_seq, rows.c.pos)
    )
    picked = select(rows)
    if before_seq is not None:
        picked = picked.where(rows.c.entry_seq < before_seq)
    if limit is not None:
        # The page is cut from the subject rows before the joins: joining a whole history to
        # sort it and keep 201 rows cost a page a third of the download (docs/personvern.md).
        # Only lookups have subject rows, so the kind filter below drops none of them.
        picked = picked.order_by(*rows_order).limit(limit)
    named = picked.subquery("named")
    conds = [_ENTRY.c.kind == LOOKUP]
    order = (
        (named.c.entry_seq.desc(), named.c.pos)
        if newest_first
        else (named.c.entry_seq, named.c.pos)
    )
    stmt = (
        select(
            _ENTRY.c.seq,
            _ENTRY.c.time,
            _ENTRY.c.fiks_org_id,
            _ENTRY.c.integrasjon_id,
            _ENTRY.c.consumer_orgnr,
            _ENTRY.c.supplier_orgnr,
            _ENTRY.c.endpoint,
            _ENTRY.c.purpose,
            _ENTRY.c.case_reference,
            _ENTRY.c.actor,
            named.c.role,
            _ITEM.c.outcome,
            _ITEM.c.dtg,
        )
        .select_from(named)
        .join(_ENTRY, _ENTRY.c.seq == named.c.entry_seq)
        .join(_ITEM, and_(_ITEM.c.entry_seq == named.c.entry_seq, _ITEM.c.pos == named.c.pos))
        .where(*conds)
        .order_by(*order)
    )
    return stmt


def org_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Konfigurasjon's names for fiksOrgIds (best effort: unknown ids are left out)."""
    from kjoretoyregister.konfig.models import FiksOrganisasjon

    return _names(conn, FiksOrganisasjon, ids)


def integration_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Konfigurasjon's names for integration ids (deleted ones included; unknown left out)."""
    from kjoretoyregister.konfig.models import Integrasjon

    return _names(conn, Integrasjon, ids)


def _names(conn: Connection, model: Any, ids: set[str]) -> dict[str, str]:
    wanted = {}
    for i in ids:
        try:
            wanted[uuid.UUID(i)] = i
        except ValueError:  # e.g. "portal", or an id from before Konfigurasjon knew it
            continue
    if not wanted:
        return {}
    rows = conn.execute(select(model.id, model.navn).where(model.id.in_(list(wanted)))).all()
    return {wanted[r.id]: r.navn for r in rows}


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``"2026-11"`` → (2026-11-01T00:00Z, 2026-12-01T00:00Z); ValueError if malformed."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("month must be YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def usage(
    engine: Engine, month: str, *, actor: str, fiks_org_id: str | None = None
) -> list[dict[str, Any]]:
    """Lookups per organisation in a month: requests and items (the basis for billing).

    ``billable`` follows KS's invoice line "Måned med minst 10 oppslag" (≥ 10 items).
    """
    start, end = month_bounds(month)
    _audit_access(engine, actor, "usage", {"month": month}, fiks_org_id)
    stmt = (
        select(
            _ENTRY.c.fiks_org_id,
            func.count().label("requests"),
            func.coalesce(func.sum(_ENTRY.c.item_count), 0).label("items"),
        )
        .where(_ENTRY.c.kind == LOOKUP, _ENTRY.c.time >= start, _ENTRY.c.time < end)
        .group_by(_ENTRY.c.fiks_org_id)
        .order_by(_ENTRY.c.fiks_org_id)
    )
    if fiks_org_id:
        stmt = stmt.where(_ENTRY.c.fiks_org_id == fiks_org_id)
    with read_transaction(engine) as conn, conn.begin():
        rows = conn.execute(stmt).all()
        names = org_names(conn, {r.fiks_org_id for r in rows if r.fiks_org_id})
    return [
        {
            "month": month,
            "fiks_org_id": r.fiks_org_id,
            "org_navn": names.get(r.fiks_org_id or ""),
            "requests": int(r.requests),
            "items": int(r.items),
            "billable": int(r.items) >= 10,
        }
        for r in rows
    ]

"""The audit hash chain: pure functions, no I/O (house style item 12).

Every entry stores ``prev_hash`` and ``hash = SHA-256(prev_hash || "\\n" || canonical(entry))``,
where ``canonical`` is the entry's fields (not its ``seq``, not the hashes) and its items with
their subject pseudonyms, as a positional JSON array. The chain's order is the order of the links;
``seq`` is the position the writer gave it under the chain lock.

What a check finds, and how it shows:

* a **changed** entry or item: its own hash no longer matches its content;
* a **deleted** entry: a gap in ``seq`` and a broken link at the next entry (or, at the end, a
  chain shorter than the head row says);
* an **inserted** entry: a broken link, or an entry beyond the head, or a wrong own hash;
* **reordered** entries: broken links where they now stand.

The chain may start at an *anchor* instead of the genesis hash: after a purge, the anchor is
the (seq, hash) of the last removed entry, recorded in a checkpoint first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64

#: Entry fields covered by the hash, in the record's column names.
ENTRY_FIELDS = (
    "kind",
    "time",
    "correlation_id",
    "fiks_org_id",
    "integrasjon_id",
    "consumer_orgnr",
    "supplier_orgnr",
    "client_id",
    "endpoint",
    "method",
    "svv_status",
    "svvguid",
    "latency_us",
    "purpose",
    "case_reference",
    "http_status",
    "item_count",
    "actor",
    "action",
    "query",
)
#: Fields added after the first format: hashed as ``[name, value]`` after the head, and only
#: when set, so every hash written before they existed stays valid.
OPTIONAL_FIELDS = ("feltpolicy",)
#: Every entry column the writer fills and verification reads.
STORED_FIELDS = ENTRY_FIELDS + OPTIONAL_FIELDS
ITEM_FIELDS = ("pos", "identifier_type", "identifier_sealed", "dtg", "outcome")
_TIME = ENTRY_FIELDS.index("time")


#: First element of every canonical form; bump it if the form ever changes.
FORMAT = "kjr-audit-v1"


def format_time(value: datetime) -> str:
    """UTC ISO time with microseconds; a naive value (SQLite gives those back) is UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def canonical(
    entry: Mapping[Any, Any],
    items: Sequence[Mapping[Any, Any]],
    subjects: Iterable[tuple[int, str, str]],
) -> bytes:
    """The bytes an entry's hash covers.

    A JSON array ``[FORMAT, [entry fields…], [[item fields…, [[role, pseudonym]…]]…]]`` in the
    fixed orders of :data:`ENTRY_FIELDS` and :data:`ITEM_FIELDS` — positional rather than
    keyed, because this runs for every audited request and sorting keys cost twice as much.

    Args:
        entry: the entry's columns (at least :data:`ENTRY_FIELDS`).
        items: its item rows (at least :data:`ITEM_FIELDS`), any order.
        subjects: ``(pos, role, pseudonym)`` rows of its items, any order.
    """
    by_pos: dict[int, list[tuple[str, str]]] = {}
    for pos, role, pseudonym in subjects:
        by_pos.setdefault(pos, []).append((role, pseudonym))
    head = [entry[f] for f in ENTRY_FIELDS]
    head[_TIME] = format_time(entry["time"])
    for name in OPTIONAL_FIELDS:
        value = entry.get(name)
        if value is not None:
            head.append([name, value])
    rows = [
        [*(item[f] for f in ITEM_FIELDS), sorted(by_pos.pop(item["pos"], ()))]
        for item in sorted(items, key=lambda i: int(i["pos"]))
    ]
    doc: list[Any] = [FORMAT, head, rows]
    if by_pos:
        # Subjects that point at no item would otherwise be invisible to the hash.
        doc.append(sorted([p, sorted(v)] for p, v in by_pos.items()))
    return orjson.dumps(doc)


def link(prev_hash: str, content: bytes) -> str:
    """The hash of an entry whose predecessor has ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + content).hexdigest()


@dataclass(frozen=True, slots=True)
class Record:
    """What verification needs of one stored entry."""

    seq: int
    prev_hash: str
    hash: str
    content: bytes  # canonical(...) recomputed from the stored rows


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of a check, with the position it was found at."""

    seq: int | None
    # changed | deleted | broken_link | beyond_head | truncated | head | checkpoint | index
    # | orphan
    # (audit/verify.py), and from signed anchors (audit/anchors.py): anchor_forged |
    # anchor_truncated | anchor_rewritten | anchor_reordered
    kind: str
    message: str


@dataclass(slots=True)
class Walk:
    """Result of :func:`walk`: the last entry seen and how many were checked."""

    last_seq: int
    last_hash: str
    checked: int = 0


def walk(records: Iterable[Record], base_seq: int, base_hash: str, out: Walk) -> Iterator[Problem]:
    """Check ``records`` (in ascending seq) as a chain that starts after ``(base_seq, base_hash)``.

    Yields each problem as found; ``out`` ends holding the last seq/hash and the count.
    """
    prev_seq, prev_hash = base_seq, base_hash
    for rec in records:
        out.checked += 1
        if rec.seq > prev_seq + 1:
            gap = f"{prev_seq + 1}" if rec.seq == prev_seq + 2 else f"{prev_seq + 1}..{rec.seq - 1}"
            yield Problem(prev_seq + 1, "deleted", f"seq {gap} missing (deleted records)")
        elif rec.seq <= prev_seq:
            yield Problem(rec.seq, "broken_link", f"seq {rec.seq} is at or before the anchor")
        if link(rec.prev_hash, rec.content) != rec.hash:
            yield Problem(rec.seq, "changed", f"seq {rec.seq}: content does not match its hash")
        if rec.prev_hash != prev_hash:
            yield Problem(
                rec.seq,
                "broken_link",
                f"seq {rec.seq}: prev_hash is not the hash of the entry before it "
                "(a record was deleted, inserted or moved here)",
            )
        prev_seq, prev_hash = rec.seq, rec.hash
    out.last_seq, out.last_hash = prev_seq, prev_hash


def check_head(out: Walk, head_seq: int, head_hash: str) -> Iterator[Problem]:
    """Compare where the walk ended with the head row the writers keep."""
    if out.last_seq < head_seq:
        yield Problem(
            out.last_seq + 1,
            "truncated",
            f"chain ends at seq {out.last_seq} but the head says {head_seq} (records deleted)",
        )
    elif out.last_seq > head_seq:
        yield Problem(
            head_seq + 1,
            "beyond_head",
            f"entries after the head seq {head_seq} up to {out.last_seq} (records inserted)",
        )
    elif out.last_hash != head_hash:
        yield Problem(head_seq, "head", f"seq {head_seq}: hash differs from the head row")

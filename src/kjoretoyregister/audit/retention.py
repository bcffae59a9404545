"""Checkpoints and retention: snapshots of the chain head, and purging old records safely.

A checkpoint is ``(seq, hash, count, time, anchor)`` of the head. Exported (JSON) and kept off
the host, it lets a later ``audit verify --against`` prove the chain was not rewritten since —
the one thing an in-database chain alone cannot show, as whoever can write the tables can also
recompute every hash.

``purge`` removes entries older than the retention period from the *start* of the chain only:
it writes a checkpoint of the current head first, then deletes ``seq <= cut`` and moves the
chain's anchor to the last removed entry's (seq, hash). Verification then starts from the
anchor, so the remaining chain stays verifiable. The purge itself is logged in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.models import CHECKPOINT_TABLE as _CHECKPOINT
from kjoretoyregister.audit.models import ENTRY_TABLE as _ENTRY
from kjoretoyregister.audit.models import HEAD_TABLE as _HEAD
from kjoretoyregister.audit.models import ITEM_TABLE as _ITEM
from kjoretoyregister.audit.models import SUBJECT_INDEX_TABLE as _SUBJECT_INDEX
from kjoretoyregister.audit.models import SUBJECT_TABLE as _SUBJECT
from kjoretoyregister.audit.writer import access_entry, append, lock_head, write_checkpoint
from kjoretoyregister.store.db import READ_ONLY, utcnow


def create_checkpoint(engine: Engine, reason: str = "manual") -> dict[str, Any]:
    """Snapshot the current head (under the chain lock) and return it as exported."""
    with engine.begin() as conn:
        return write_checkpoint(conn, lock_head(conn), reason)


def latest_checkpoint(engine: Engine) -> dict[str, Any] | None:
    """The newest stored checkpoint, in export form, or None."""
    with engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
        row = conn.execute(
            select(_CHECKPOINT).order_by(_CHECKPOINT.c.id.desc()).limit(1)
        ).one_or_none()
    if row is None:
        return None
    out = {k: v for k, v in row._mapping.items() if k != "id"}
    out["created"] = chain.format_time(row.created)
    return out


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What :func:`purge` did."""

    removed: int
    anchor_seq: int
    checkpoint: dict[str, Any] | None


#: Entries removed per transaction: each chunk holds the chain lock only briefly, so
#: gateways keep appending while a large purge runs.
PURGE_CHUNK = 5000


def purge(
    engine: Engine,
    *,
    retention_days: int,
    actor: str,
    now: datetime | None = None,
    chunk: int = PURGE_CHUNK,
) -> PurgeResult:
    """Delete entries older than ``retention_days`` from the start of the chain.

    Never removes an entry younger than the cut-off: the cut is just before the first entry
    at or after it (entries from several instances can be slightly out of time order). The
    checkpoint comes first, in its own transaction; then chunks of ``chunk`` entries go, each
    moving the anchor with it, so the chain verifies after every chunk (and after a crash).

    Args:
        engine: the audit database.
        retention_days: keep this many days.
        actor: who purges (recorded in the chain).
        now: the current time (tests).
        chunk: entries per transaction.
    """
    if retention_days < 1 or chunk < 1:
        raise ValueError("retention_days and chunk must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    with engine.begin() as conn:
        head = lock_head(conn)
        first_kept = conn.execute(
            select(func.min(_ENTRY.c.seq)).where(_ENTRY.c.time >= cutoff)
        ).scalar_one_or_none()
        cut = head.seq if first_kept is None else int(first_kept) - 1
        if cut <= head.base_seq:
            return PurgeResult(0, head.base_seq, None)
        checkpoint = write_checkpoint(conn, head, "purge")
    removed = 0
    anchor = head.base_seq
    while anchor < cut:
        upto = min(anchor + chunk, cut)
        with engine.begin() as conn:
            lock_head(conn)  # one purger at a time; writers wait only for this chunk
            anchor_hash = conn.execute(
                select(_ENTRY.c.hash).where(_ENTRY.c.seq == upto)
            ).scalar_one_or_none()
            if anchor_hash is None:
                raise RuntimeError(f"audit entry seq {upto} is missing; verify the chain first")
            conn.execute(delete(_SUBJECT).where(_SUBJECT.c.entry_seq <= upto))
            conn.execute(delete(_SUBJECT_INDEX).where(_SUBJECT_INDEX.c.entry_seq <= upto))
            conn.execute(delete(_ITEM).where(_ITEM.c.entry_seq <= upto))
            removed += conn.execute(delete(_ENTRY).where(_ENTRY.c.seq <= upto)).rowcount
            conn.execute(
                update(_HEAD).where(_HEAD.c.id == 1).values(base_seq=upto, base_hash=anchor_hash)
            )
        anchor = upto
    with engine.begin() as conn:
        note = access_entry(
            actor,
            "purge",
            {"retention_days": retention_days, "cutoff": cutoff, "anchor_seq": cut},
        )
        append(conn, [note])
    return PurgeResult(int(removed), cut, checkpoint)

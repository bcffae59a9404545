"""The pure chain functions find each kind of tampering and say where."""

from __future__ import annotations

from datetime import UTC, datetime

from kjoretoyregister.audit import chain


def _records(n: int) -> list[chain.Record]:
    out, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        content = f"entry {seq}".encode()
        digest = chain.link(prev, content)
        out.append(chain.Record(seq, prev, digest, content))
        prev = digest
    return out


def _problems(records: list[chain.Record], head: chain.Record | None = None) -> list[chain.Problem]:
    walked = chain.Walk(0, chain.GENESIS)
    found = list(chain.walk(records, 0, chain.GENESIS, walked))
    if head is not None:
        found += list(chain.check_head(walked, head.seq, head.hash))
    return found


def test_intact_chain_has_no_problems() -> None:
    recs = _records(5)
    assert _problems(recs, recs[-1]) == []


def test_changed_content_is_found_at_its_seq() -> None:
    recs = _records(5)
    r = recs[2]
    recs[2] = chain.Record(r.seq, r.prev_hash, r.hash, b"forged")
    assert [(p.seq, p.kind) for p in _problems(recs, recs[-1])] == [(3, "changed")]


def test_deleted_entry_shows_as_gap_and_broken_link() -> None:
    recs = _records(5)
    del recs[1]
    kinds = {(p.seq, p.kind) for p in _problems(recs, recs[-1])}
    assert (2, "deleted") in kinds
    assert (3, "broken_link") in kinds


def test_reordered_entries_break_links() -> None:
    recs = _records(5)
    a, b = recs[1], recs[2]
    recs[1] = chain.Record(2, b.prev_hash, b.hash, b.content)
    recs[2] = chain.Record(3, a.prev_hash, a.hash, a.content)
    assert {p.seq for p in _problems(recs, recs[-1]) if p.kind == "broken_link"} >= {2, 3}


def test_tail_removed_or_added_is_found_against_the_head() -> None:
    recs = _records(5)
    assert [p.kind for p in _problems(recs[:4], recs[-1])] == ["truncated"]
    assert [p.kind for p in _problems(_records(6), recs[-1])] == ["beyond_head"]


def test_canonical_time_ignores_backend_time_zone_handling() -> None:
    """SQLite returns naive UTC, PostgreSQL aware: the hash must not differ."""
    aware = datetime(2026, 11, 26, 22, 0, 0, 123456, tzinfo=UTC)
    assert chain.format_time(aware) == chain.format_time(aware.replace(tzinfo=None))

"""Min innsyn on a large audit log: a person with thousands of lookups among 1 M entries.

Fills a fresh store (SQLite temp file, and PostgreSQL in a fresh schema of the test database
unless ``--stores sqlite``) with ``--entries`` lookup entries, each with one item and two
subjects (the plate asked for, the owner returned). One synthetic person is the owner in
``--person-entries`` of them, spread over the whole log. Rows are inserted in bulk, not
through the writer, so the chain does not verify: this measures the read path only.

Then, interleaved for ``--rounds``, it times on each store:

- ``rows page``: the indexed query for one page (201 rows) without recording the read
  (the reference: what the index alone costs);
- ``own page``: :func:`audit.query.own_innsyn` for one page, the read recorded durably first
  (what the portal's page does);
- ``own all``: the same for the whole history (the PDF/JSON download);
- ``own none``: a person nobody looked up.

    .venv/bin/python bench/innsyn_bench.py --entries 1000000 --person-entries 5000
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, update

from kjoretoyregister.audit import query
from kjoretoyregister.audit.models import AuditChainHead, AuditEntry, AuditItem, AuditSubject
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.subject_index import index_step
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema, sqlite_database

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FNR = "01818012345"  # any 11 digits: only its pseudonym is used
ORGS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(50)]
CHUNK = 20_000


def _chunks(
    entries: int, person_every: int, target: str
) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for base in range(1, entries + 1, CHUNK):
        es, items, subjects = [], [], []
        for seq in range(base, min(base + CHUNK, entries + 1)):
            es.append(
                {
                    "seq": seq,
                    "kind": "lookup",
                    "time": start + timedelta(seconds=seq * 20),
                    "correlation_id": f"c{seq}",
                    "fiks_org_id": ORGS[seq % len(ORGS)],
                    "integrasjon_id": ORGS[(seq * 7) % len(ORGS)],
                    "endpoint": "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
                    "method": "POST",
                    "svv_status": 200,
                    "http_status": 200,
                    "purpose": "Parkeringsgebyr",
                    "case_reference": f"2025/{seq}",
                    "item_count": 1,
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )
            items.append(
                {
                    "entry_seq": seq,
                    "pos": 0,
                    "identifier_type": "kjennemerke",
                    "identifier_sealed": "sealed",
                    "outcome": "found",
                }
            )
            owner = target if seq % person_every == 0 else secrets.token_hex(32)
            subjects.append(
                {"entry_seq": seq, "pos": 0, "role": "q", "pseudonym": secrets.token_hex(32)}
            )
            subjects.append({"entry_seq": seq, "pos": 0, "role": "r", "pseudonym": owner})
        yield es, items, subjects


def fill(engine: Engine, entries: int, person_entries: int, target: str) -> float:
    started = time.perf_counter()
    tables = [cast(Table, m.__table__) for m in (AuditEntry, AuditItem, AuditSubject)]
    every = max(1, entries // person_entries)
    for chunk in _chunks(entries, every, target):
        with engine.begin() as conn:
            for table, rows in zip(tables, chunk, strict=True):
                conn.execute(insert(table), rows)
    with engine.begin() as conn:
        head = cast(Table, AuditChainHead.__table__)
        if conn.execute(head.select()).first() is None:
            conn.execute(
                insert(head),
                [{"id": 1, "seq": entries, "hash": "0" * 64, "base_seq": 0, "base_hash": "0" * 64}],
            )
        else:
            conn.execute(update(head).values(seq=entries, hash="0" * 64))
    # The pseudonym index, as the gateway's indexer keeps it (audit/subject_index.py).
    while True:
        with engine.begin() as conn:
            if not index_step(conn, max_rows=200_000):
                break
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # fresh statistics, as a long-running store has
    return time.perf_counter() - started


def _time(fn: Callable[[], Any]) -> tuple[float, int]:
    started = time.perf_counter()
    n = len(fn())
    return (time.perf_counter() - started) * 1000, n


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--person-entries", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--stores", default="sqlite,postgresql")
    args = ap.parse_args()
    if not 0 < args.person_entries <= args.entries:
        ap.error("--person-entries must be between 1 and --entries")

    pz = Pseudonymizer(secrets.token_bytes(32))
    target = pz.pseudonym("fodselsnummer", FNR)
    nobody = pz.pseudonym("fodselsnummer", "41818012345")
    actor = "person:" + target
    with ExitStack() as stack:
        engines: dict[str, Engine] = {}
        for store in args.stores.split(","):
            if store == "sqlite":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = stack.enter_context(sqlite_database(tmp))
            elif store == "postgresql":
                url = stack.enter_context(postgres_schema(PG_URL))
            else:
                ap.error(f"unknown store {store!r}; valid: sqlite, postgresql")
            engine = make_engine(url)
            stack.callback(engine.dispose)
            took = fill(engine, args.entries, args.person_entries, target)
            print(f"{store}: filled {args.entries:,} entries in {took:.1f} s", flush=True)
            engines[store] = engine

        cases: dict[str, Callable[[Engine], Callable[[], Any]]] = {
            "rows page (no read record)": lambda e: (
                lambda: query.innsyn_rows(e, target, newest_first=True, limit=201)
            ),
            "own page (read recorded)": lambda e: (
                lambda: query.own_innsyn(e, target, actor=actor, limit=201)
            ),
            "own all (download)": lambda e: (
                lambda: query.own_innsyn(e, target, actor=actor, limit=20_001)
            ),
            "own none (never looked up)": lambda e: (
                lambda: query.own_innsyn(e, nobody, actor="person:" + nobody, limit=201)
            ),
        }
        results: dict[tuple[str, str], list[float]] = {}
        counts: dict[tuple[str, str], int] = {}
        for _ in range(args.rounds):  # interleaved: machine noise hits every case alike
            for store, engine in engines.items():
                for name, make in cases.items():
                    ms, n = _time(make(engine))
                    results.setdefault((store, name), []).append(ms)
                    counts[(store, name)] = n

    print(
        f"\n{args.entries:,} entries; the person is in {args.person_entries:,}; "
        f"{args.rounds} rounds"
    )
    print(f"{'store':<11} {'case':<28} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'× ref':>6}")
    for store in engines:
        ref = statistics.median(results[(store, "rows page (no read record)")])
        for name in cases:
            xs = sorted(results[(store, name)])
            p50 = statistics.median(xs)
            p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
            print(
                f"{store:<11} {name:<28} {counts[(store, name)]:>6} {p50:>8.1f} {p95:>8.1f} "
                f"{p50 / ref:>6.2f}"
            )


if __name__ == "__main__":
    main()

"""Several audit writer processes on one chain, each at a fixed rate: what sharing costs.

Each writer is a process of its own with a ``DurableAuditSink`` on the same database (as two
gateway workers or instances are), recording gateway-like events (``audit_bench._event``) on a
fixed schedule; latency counts from the scheduled time. The reference, in the same run, is one
writer alone at the same total rate, so the ratio shows what a second writer costs. After
each run the chain is verified.

    .venv/bin/python bench/audit_writers.py --stores postgresql --rate 500 --rounds 4

To compare two trees, run it once with ``PYTHONPATH=<other tree>/src``: the writer processes
inherit it. PostgreSQL at 127.0.0.1:5432 (trust, database ``test``); SQLite in a temp file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _writer(url: str, rate: float, seconds: float, seed: int) -> None:
    """One writer process: warm up, record ``rate`` events/s for ``seconds``, print JSON."""
    sys.path.insert(0, str(HERE))
    from audit_bench import _event
    from kjoretoyregister.audit.pseudonyms import Pseudonymizer
    from kjoretoyregister.audit.writer import DurableAuditSink
    from kjoretoyregister.store.db import make_engine

    async def run() -> dict[str, float]:
        engine = make_engine(url)
        latencies: list[float] = []
        try:
            pz = Pseudonymizer(b"bench-secret-bench-secret-bench!")
            async with DurableAuditSink(engine, pz) as sink:
                for i in range(20):  # connections, caches
                    await sink.record(_event(seed * 1_000_000 + i))
                loop = asyncio.get_running_loop()
                n = int(rate * seconds)
                start = loop.time() + 0.3
                cpu0 = time.process_time()

                async def one(i: int) -> None:
                    due = start + i / rate
                    if (delay := due - loop.time()) > 0:
                        await asyncio.sleep(delay)
                    await sink.record(_event(seed * 1_000_000 + 100 + i))
                    latencies.append((loop.time() - due) * 1000)

                await asyncio.gather(*(one(i) for i in range(n)))
                cpu = time.process_time() - cpu0
        finally:
            engine.dispose()
        latencies.sort()
        return {
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99) - 1],
            "cpu_us": cpu * 1e6 / n,
        }

    print(json.dumps(asyncio.run(run())), flush=True)


def _database(store: str, tmp: Path) -> AbstractContextManager[str]:
    from kjoretoyregister.store.testing import postgres_schema, sqlite_database

    return postgres_schema(PG_URL) if store == "postgresql" else sqlite_database(tmp)


def _run(store: str, writers: int, rate: float, seconds: float) -> dict[str, Any]:
    from kjoretoyregister.audit.verify import verify
    from kjoretoyregister.store.db import make_engine

    with tempfile.TemporaryDirectory() as tmp, _database(store, Path(tmp)) as url:
        cmd = [sys.executable, __file__, "--writer", url, str(rate / writers), str(seconds)]
        procs = [
            subprocess.Popen([*cmd, str(k)], stdout=subprocess.PIPE, text=True)
            for k in range(writers)
        ]
        outs = []
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 120)
            if p.returncode != 0:
                raise SystemExit(f"a writer process failed (exit {p.returncode})")
            outs.append(json.loads(out.strip().splitlines()[-1]))
        engine = make_engine(url)
        try:
            ok = verify(engine).ok
        finally:
            engine.dispose()
    return {"writers": outs, "verify_ok": ok}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        url, rate, seconds, seed = sys.argv[2:6]
        _writer(url, float(rate), float(seconds), int(seed))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stores", default="postgresql", help="comma list of sqlite, postgresql")
    ap.add_argument("--writers", default="1,2", help="comma list of writer counts")
    ap.add_argument("--rate", type=float, default=500.0, help="total records/s over all writers")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    stores = args.stores.split(",")
    if set(stores) - {"sqlite", "postgresql"}:
        raise SystemExit("--stores takes sqlite and/or postgresql")
    counts = [int(w) for w in args.writers.split(",")]
    if not counts or min(counts) < 1 or args.rate <= 0 or args.seconds <= 0 or args.rounds < 1:
        raise SystemExit("--writers, --rate, --seconds and --rounds must be positive")
    print(f"tree: {os.environ.get('PYTHONPATH') or 'installed'}; {args.rate:g} records/s total")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for store in stores:
            for w in counts:  # interleaved: every config once per round
                run = _run(store, w, args.rate, args.seconds)
                if not run["verify_ok"]:
                    raise SystemExit(f"{store}, {w} writers: the chain does not verify")
                results.setdefault((store, w), []).extend(run["writers"])
                print(
                    f"round {r + 1} {store} {w}w: "
                    + ", ".join(
                        f"p50 {o['p50']:.2f} ms p99 {o['p99']:.2f} ms {o['cpu_us']:.0f} us"
                        for o in run["writers"]
                    ),
                    flush=True,
                )
    print("\n| store | writers | record p50 | record p99 | CPU per record | p50 vs 1 writer |")
    print("|---|---|---|---|---|---|")
    for store in stores:
        alone = _median(results[(store, counts[0])], "p50")
        for w in counts:
            p50, p99, cpu = (_median(results[(store, w)], k) for k in ("p50", "p99", "cpu_us"))
            print(
                f"| {store} | {w} | {p50:.2f} ms | {p99:.2f} ms | {cpu:.0f} µs | "
                f"{p50 / alone:.2f}× |"
            )


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


if __name__ == "__main__":
    main()

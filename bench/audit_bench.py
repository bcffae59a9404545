"""Throughput and latency of ``DurableAuditSink.record`` with N concurrent callers.

Runs, in one process and one run, a no-op sink, the durable sink on SQLite (a temp file) and
on PostgreSQL (a fresh schema in the test database, skipped if the server is not there).
Each caller records gateway-like events (2 items, one returned identity) back to back for
``--seconds``; the figures are records/s, per-call latency percentiles, and this process's CPU
per record (event loop + writer thread), which other load on the machine disturbs least.

    .venv/bin/python bench/audit_bench.py --callers 64 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kjoretoyregister.audit.events import AuditEvent, AuditItem, AuditSink
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.sinks import NullAuditSink
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema, sqlite_database

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        time=datetime.now(UTC),
        correlation_id=uuid.uuid4().hex,
        fiks_org_id="11111111-1111-4111-8111-111111111111",
        integrasjon_id="bench",
        consumer_orgnr="987654325",
        supplier_orgnr=None,
        client_id="bench-client",
        endpoint="/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
        method="POST",
        items=(
            AuditItem("kjennemerke", f"BE{n % 100000:05d}", None, "found", ("01819012365",)),
            AuditItem("kjennemerke", f"BF{n % 100000:05d}", None, "not_found"),
        ),
        svv_status=200,
        svvguid="bench",
        latency_ms=3.2,
        purpose="bench",
        case_reference=None,
        http_status=200,
    )


async def _drive(sink: AuditSink, callers: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    counter = 0

    async def caller() -> None:
        nonlocal counter
        while time.perf_counter() < stop:
            counter += 1
            ev = _event(counter)
            t = time.perf_counter()
            await sink.record(ev)
            latencies.append(time.perf_counter() - t)

    start, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    latencies.sort()
    return {
        "records": len(latencies),
        # CPU of this process (loop + writer thread) per record: robust against other load.
        "cpu_us": cpu / max(len(latencies), 1) * 1e6,
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def _durable(url: str, callers: int, seconds: float, batch_max: int) -> dict[str, Any]:
    engine = make_engine(url)
    pz = Pseudonymizer(b"bench-secret-bench-secret-bench!")
    try:
        async with DurableAuditSink(engine, pz, batch_max=batch_max) as sink:
            await _drive(sink, callers, 0.5)  # warm-up: pool, caches
            sink.batches = sink.events = 0
            result = await _drive(sink, callers, seconds)
            result["mean_batch"] = sink.events / max(sink.batches, 1)
        t = time.perf_counter()
        report = await asyncio.to_thread(verify, engine)
        result["verify_ok"] = report.ok
        result["verify_per_s"] = report.checked / (time.perf_counter() - t)
        return result
    finally:
        engine.dispose()


def _pg_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _pg() -> Iterator[str | None]:
    if not _pg_up():
        yield None
        return
    with postgres_schema(PG_URL) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-max", type=int, default=512)
    args = parser.parse_args()

    rows: list[tuple[str, dict[str, Any]]] = []
    rows.append(("no-op", asyncio.run(_drive(NullAuditSink(), args.callers, args.seconds))))
    with tempfile.TemporaryDirectory() as tmp, sqlite_database(Path(tmp)) as url:
        rows.append(
            ("sqlite", asyncio.run(_durable(url, args.callers, args.seconds, args.batch_max)))
        )
    with _pg() as pg_url:
        if pg_url:
            rows.append(
                (
                    "postgresql",
                    asyncio.run(_durable(pg_url, args.callers, args.seconds, args.batch_max)),
                )
            )
        else:
            print("postgresql: not reachable on 127.0.0.1:5432, skipped")

    print(f"record() with {args.callers} concurrent callers, {args.seconds:.0f} s each")
    print(
        f"{'sink':<11} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'batch':>6} "
        f"{'cpu us/rec':>10} {'verify/s':>9}"
    )
    for name, r in rows:
        batch = f"{r['mean_batch']:.1f}" if "mean_batch" in r else "-"
        vps = f"{r['verify_per_s']:.0f}" if "verify_per_s" in r else "-"
        print(
            f"{name:<11} {r['per_s']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{batch:>6} {r['cpu_us']:>10.0f} {vps:>9}"
        )
        if r.get("verify_ok") is False:
            print(f"  {name}: CHAIN DID NOT VERIFY")


if __name__ == "__main__":
    main()

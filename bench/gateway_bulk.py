"""Bulk through the gateway vs straight to the simulator: 1,000 plates, durable audit on.

Issue 12's bulk target: a 1,000-plate ``bulk/kjennemerke`` through the gateway (every check,
durable audit with one item and the returned identities' pseudonyms per plate) costs at most
1.5x the same request sent directly to the simulator, with the gateway's memory flat over
100 such requests.

Per store (``--stores sqlite,postgresql``) it starts the simulator and the Maskinporten
stand-in in this process and one real ``kjoretoyregister gateway serve`` process on that
store (``tests/cluster.py``, as the scale-out test does), then sends ``--requests`` requests
of ``--items`` existing plates one at a time, alternating direct and gateway so both see the
same machine. It reports medians and p90 of the wall time per request (send to last byte),
the ratio of medians, the gateway's RSS after the warm-up and at the end, and checks that the
audit log holds one item per plate asked and that the gateway passed SVV's body through
byte for byte.

    .venv/bin/python bench/gateway_bulk.py --stores sqlite,postgresql

By default every request asks for the same plates (the audit's pseudonym index then takes the
same keys again and again, its favourable case). ``--plates distinct`` gives each request
plates of its own, as real traffic does (the register is then made large enough).
The audit's pseudonym index is kept up after the answer (audit/subject_index.py); the last
column is how many entries it had not yet indexed when the last answer arrived, and a second
later (it must be back at 0: the index keeps up with back-to-back bulk requests).

Bounded by ``--requests`` and ``--budget-s``; loopback only. Needs PostgreSQL on
127.0.0.1:5432 (database ``test``) for the postgresql store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cluster import start_cluster
from kjoretoyregister.audit.subject_index import backlog
from kjoretoyregister.logs import configure_logging
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema
from stack import Stack, ensure_register

API = "bulk/kjennemerke"
WARMUP = 5


@contextlib.contextmanager
def store_url(kind: str, workdir: Path, pg_base: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'kjr.db'}"
    elif kind == "postgresql":
        with postgres_schema(pg_base, migrate=False) as url:
            yield url
    else:
        raise SystemExit(f"unknown store {kind!r}; valid: sqlite, postgresql")


async def timed_post(
    stack: Stack, url: str, body: bytes, headers: dict[str, str]
) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    async with stack.http.post(url, data=body, headers=headers) as resp:
        payload = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url} answered {resp.status}: {payload[:200]!r}")
    return (time.perf_counter() - t0) * 1000, payload


def index_backlog(url: str) -> int:
    """Entries the pseudonym index has not taken yet (readers scan them by seq meanwhile)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return backlog(conn)
    finally:
        engine.dispose()


def audit_items(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_item")).scalar_one())
    finally:
        engine.dispose()


async def run_store(kind: str, args: argparse.Namespace, register: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kjr-bulk-{kind}-"))
    try:
        with store_url(kind, workdir, args.database_url) as url:
            env = {"KJR_LOG_LEVEL": "WARNING"}
            async with start_cluster(
                workdir, url, register_path=register, instances=1, env=env, authz_cache_s=10
            ) as (stack, instances):
                return await drive(kind, args, stack, instances[0].proc.pid, url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def drive(
    kind: str, args: argparse.Namespace, stack: Stack, gateway_pid: int, url: str
) -> dict[str, Any]:
    assert stack.register is not None
    rounds = WARMUP + args.requests
    if args.plates == "distinct":
        plates = stack.register.sample_kjennemerker(args.items * rounds, seed=5)
    else:
        plates = stack.register.sample_kjennemerker(args.items, seed=5) * rounds
    bodies = [
        orjson.dumps([{"kjennemerke": p} for p in plates[i * args.items : (i + 1) * args.items]])
        for i in range(rounds)
    ]
    json_type = {"Content-Type": "application/json"}
    direct_url = f"{stack.svv_url}/rest/distribusjon/kjoretoy/v2.0/{API}"
    gateway_url = stack.api(API)
    token = await stack.token()
    gw_headers = {**stack.headers(token), **json_type}
    sv_headers = {**stack.svv_auth(), **json_type}
    proc = psutil.Process(gateway_pid)
    items_before = audit_items(url)

    direct: list[float] = []
    gateway: list[float] = []
    rss: list[int] = []
    same_body = True
    deadline = time.monotonic() + args.budget_s
    for i, body in enumerate(bodies):
        if time.monotonic() > deadline:
            break
        d_ms, d_body = await timed_post(stack, direct_url, body, sv_headers)
        g_ms, g_body = await timed_post(stack, gateway_url, body, gw_headers)
        same_body = same_body and d_body == g_body
        if i >= WARMUP:
            direct.append(d_ms)
            gateway.append(g_ms)
            rss.append(proc.memory_info().rss)
    sent = WARMUP + len(gateway)
    items_logged = audit_items(url) - items_before
    backlog_at_end = index_backlog(url)
    await asyncio.sleep(1.0)
    backlog_after_1s = index_backlog(url)

    def p90(xs: list[float]) -> float:
        return sorted(xs)[int(len(xs) * 0.9)]

    return {
        "store": kind,
        "plates": args.plates,
        "requests": len(gateway),
        "items": args.items,
        "direct_p50_ms": round(statistics.median(direct), 1),
        "direct_p90_ms": round(p90(direct), 1),
        "gateway_p50_ms": round(statistics.median(gateway), 1),
        "gateway_p90_ms": round(p90(gateway), 1),
        "ratio_p50": round(statistics.median(gateway) / statistics.median(direct), 2),
        "rss_first_mb": round(rss[0] / 2**20, 1),
        "rss_last_mb": round(rss[-1] / 2**20, 1),
        "rss_max_mb": round(max(rss) / 2**20, 1),
        "body_passed_through": same_body,
        "audit_items_logged": items_logged,
        "audit_items_expected": sent * args.items,
        "index_backlog": [backlog_at_end, backlog_after_1s],
    }


def report(results: list[dict[str, Any]]) -> None:
    head = (
        "| store | plates | requests × plates | direct p50 / p90 | gateway p50 / p90 |"
        " ratio (p50) | gateway RSS first → last (max) | body unchanged | audit items |"
        " index backlog: end → 1 s |"
    )
    print(head)
    print("|" + "---|" * 10)
    for r in results:
        print(
            f"| {r['store']} | {r['plates']} | {r['requests']} × {r['items']} "
            f"| {r['direct_p50_ms']} / {r['direct_p90_ms']} ms "
            f"| {r['gateway_p50_ms']} / {r['gateway_p90_ms']} ms | {r['ratio_p50']}× "
            f"| {r['rss_first_mb']} → {r['rss_last_mb']} ({r['rss_max_mb']}) MB "
            f"| {'yes' if r['body_passed_through'] else 'NO'} "
            f"| {r['audit_items_logged']} of {r['audit_items_expected']} "
            f"| {r['index_backlog'][0]} → {r['index_backlog'][1]} |"
        )


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    cache = Path(tempfile.gettempdir()) / "kjr-bench-bulk"
    vehicles = args.vehicles
    if args.plates == "distinct":  # room for every request's own plates
        vehicles = max(vehicles, args.items * (WARMUP + args.requests) * 11 // 10)
    register = ensure_register(cache / f"register-{vehicles}.sqlite", vehicles=vehicles)
    return [await run_store(kind, args, register) for kind in args.stores.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--vehicles", type=int, default=5000)
    parser.add_argument("--budget-s", type=float, default=600, help="per store")
    parser.add_argument("--plates", choices=("same", "distinct"), default="same")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    if not 1 <= args.items <= 1000 or not 1 <= args.requests <= 1000:
        raise SystemExit("--items in [1, 1000] (SVV's bulk limit), --requests in [1, 1000]")
    configure_logging("WARNING")  # the in-process simulator logs every request at DEBUG
    results = asyncio.run(main_async(args))
    report(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

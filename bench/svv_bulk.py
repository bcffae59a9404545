"""Benchmark: bulk/kjennemerke of 1,000 plates against `svv serve`, over loopback HTTP.

Starts ``kjoretoyregister svv serve`` on the given register file (a child process on a free
loopback port), sends ``--requests`` bulk requests of ``--items`` existing plates each
(``Register.sample_kjennemerker``, so every plate is a hit), ``--concurrency`` at a time, and
reports p50/p90/p99 wall time per request (send → last byte read). For comparison it also times
the in-process ``Register.many_by_kjennemerke`` for the same batches, and that plus JSON
encoding, which is what the server adds HTTP to. Meanwhile a probe sends one-plate requests
about ten a second: their latency shows whether big lookups block the event loop
(``--lookup-threads 0``) or not (a thread pool).

``--lookup-processes`` takes a comma list (``auto`` = the server's default: one per core for a
register of 500,000 vehicles or more): each is measured in turn, ``--rounds`` times
alternating, so that the configurations are compared in the same run.

Bounded: stops sending after ``--budget-s`` seconds. Loopback only.

    .venv/bin/python bench/svv_bulk.py --data .kjr/register-6m.sqlite
    .venv/bin/python bench/svv_bulk.py --data r.sqlite --lookup-threads 0 --concurrency 4
    .venv/bin/python bench/svv_bulk.py --data .kjr/register-6m.sqlite --lookup-processes 0,auto \
        --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from kjoretoyregister.svv.register import Register

BASE = "/ws/no/vegvesen/kjoretoy/felles/v2/rest/distribusjon/kjoretoy/v2.0"
USER, PASSWORD = "bench", "bench-passord"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(name: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{name:<34} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  "
        f"p90={percentile(ms, 90):7.1f} ms  p99={percentile(ms, 99):7.1f} ms  "
        f"max={max(ms):7.1f} ms"
    )


def start_server(
    data: Path, port: int, lookup_threads: int, lookup_processes: str
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "kjoretoyregister",
        "svv",
        "serve",
        "--data",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--user",
        f"{USER}:{PASSWORD}",
        "--lookup-threads",
        str(lookup_threads),
    ]
    if lookup_processes != "auto":
        command += ["--lookup-processes", lookup_processes]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(session: aiohttp.ClientSession, root: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            async with session.get(root + "/_sim/faults") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("svv serve did not come up")


async def send_all(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[bytes],
    concurrency: int,
    budget_s: float,
) -> tuple[list[float], int]:
    timings: list[float] = []
    size = 0
    queue = list(reversed(bodies))
    deadline = time.monotonic() + budget_s

    async def worker() -> None:
        nonlocal size
        while queue and time.monotonic() < deadline:
            body = queue.pop()
            started = time.perf_counter()
            async with session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                payload = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
            timings.append(time.perf_counter() - started)
            size = len(payload)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return timings, size


async def probe(
    session: aiohttp.ClientSession, url: str, bulk_body: bytes, stop: asyncio.Event
) -> list[float]:
    """One-plate requests (the first plate of ``bulk_body``), one every ~100 ms, until stopped."""
    body = orjson.dumps(orjson.loads(bulk_body)[:1])
    timings: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        async with session.post(
            url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
        timings.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)  # light: ~10 probes a second must not skew the bulk figures
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="register file")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--lookup-threads", type=int, default=4)
    parser.add_argument("--lookup-processes", default="auto", help="comma list, e.g. 0,auto")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=120.0)
    args = parser.parse_args()

    register = Register(args.data)
    vehicles = register.meta.get("vehicles", "?")
    started = time.perf_counter()
    plates = register.sample_kjennemerker(args.items * args.requests, seed=42)
    print(
        f"register: {args.data} ({vehicles} vehicles); sampled {len(plates)} plates "
        f"in {time.perf_counter() - started:.1f} s"
    )
    batches = [plates[i : i + args.items] for i in range(0, len(plates), args.items)]
    bodies = [orjson.dumps([{"kjennemerke": p} for p in batch]) for batch in batches]

    # In-process: the register call alone, then with the JSON encoding the server adds. The
    # same warm-up as over HTTP, so both sides are timed with warm caches.
    in_process: list[float] = []
    with_json: list[float] = []
    for batch in batches[: args.warmup]:
        register.many_by_kjennemerke([(p, None) for p in batch])
    for batch in batches[args.warmup : args.warmup + 20]:
        items = [(p, None) for p in batch]
        t0 = time.perf_counter()
        results = register.many_by_kjennemerke(items)
        t1 = time.perf_counter()
        orjson.dumps([{"kjoretoy": r[0].kjoretoy, "responskoder": []} for r in results if r])
        t2 = time.perf_counter()
        in_process.append(t1 - t0)
        with_json.append(t2 - t0)
    register.close()

    configs = [c.strip() for c in args.lookup_processes.split(",") if c.strip()]
    timings: dict[str, list[float]] = {c: [] for c in configs}
    probes: dict[str, list[float]] = {c: [] for c in configs}
    walls: dict[str, float] = dict.fromkeys(configs, 0.0)
    size = 0
    for _ in range(args.rounds):
        for config in configs:
            took, probed, wall, size = await measure(args, config, bodies)
            timings[config] += took
            probes[config] += probed
            walls[config] += wall

    print(
        f"lookup_threads={args.lookup_threads} concurrency={args.concurrency} "
        f"items/request={args.items} response≈{size / 1e6:.2f} MB rounds={args.rounds}"
    )
    print(summary("in-process many_by_kjennemerke", in_process))
    print(summary("in-process + orjson encode", with_json))
    for config in configs:
        print(summary(f"HTTP bulk, lookup_processes={config}", timings[config]))
        print(summary("  1-plate probe meanwhile", probes[config]))
        n = len(timings[config])
        print(
            f"  throughput: {n / walls[config]:.1f} requests/s, "
            f"{n * args.items / walls[config]:,.0f} plates/s"
        )


async def measure(
    args: argparse.Namespace, config: str, bodies: list[bytes]
) -> tuple[list[float], list[float], float, int]:
    """One server with ``--lookup-processes config``: its bulk timings, probe timings, wall
    time and answer size."""
    port = free_port()
    server = start_server(args.data, port, args.lookup_threads, config)
    root = f"http://127.0.0.1:{port}"
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
            await wait_ready(session, root, timeout_s=60)
            url = root + BASE + "/bulk/kjennemerke"
            await send_all(session, url, bodies[: args.warmup], 1, args.budget_s)
            stop = asyncio.Event()
            prober = asyncio.create_task(probe(session, url, bodies[0], stop))
            wall_started = time.perf_counter()
            timings, size = await send_all(session, url, bodies, args.concurrency, args.budget_s)
            wall = time.perf_counter() - wall_started
            stop.set()
            probe_timings = await prober
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return timings, probe_timings, wall, size


if __name__ == "__main__":
    asyncio.run(main())

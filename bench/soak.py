"""Soak + faults: two gateway instances behind nginx at a fixed rate, with outages (loopback).

What it does, bounded in time (``--minutes``, default 10) and count (rate x time):

* starts the SVV simulator and the Maskinporten stand-in (in this process), a fresh
  PostgreSQL schema (Konfigurasjon + audit), and two ``kjoretoyregister gateway serve``
  processes sharing it and Redis (org rate limit on, far above the offered rate, so every
  request goes through Redis; authorization decision cache 30 s with invalidation);
* puts nginx in front of the two instances (round robin, ``proxy_next_upstream error``), and,
  as the reference in the same run, nginx ``proxy_pass`` straight to the simulator;
* offers ``--rate`` requests/s (open loop) to *each* path: 70 % POST bulk/kjennemerke
  (1–5 plates), 20 % GET sok/kjennemerke, 10 % GET bulk/understellsnummer;
* faults on a schedule (fractions of the run): SVV outage 20–30 % (simulator ``outage``),
  audit/Konfigurasjon database connections killed at 45 % (``pg_terminate_backend`` on the
  gateways' connections, found by ``application_name``; the shared server keeps running),
  ``kill -9`` of instance 1 at 70 % (nginx fails over to instance 0);
* samples each instance's RSS every 5 s;
* at the end compares the audit log with the answers: every 2xx the client received must
  have its audit entry (by correlation id), and audit items must cover the plates asked.

Usage::

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 40] [--json out.json]

Needs PostgreSQL on 127.0.0.1:5432 (database ``test``), Redis on 127.0.0.1:6379, nginx.
Every process it starts is stopped by its own id at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cluster import Instance, free_port, start_cluster
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.logs import configure_logging
from kjoretoyregister.store.db import make_engine
from kjoretoyregister.store.testing import postgres_schema
from stack import SVV_BASE_PATH, Stack, ensure_register

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class Tally:
    """What one path (gateway or nginx reference) answered."""

    sent: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    ok_cids: dict[str, int] = field(default_factory=dict)  # 2xx correlation id → items asked

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        answered = sum(v for k, v in self.classes.items() if not k.startswith("client:"))
        return {
            "sent": self.sent,
            "answered": answered,
            "classes": dict(self.classes.most_common()),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
        }


def nginx_conf(
    workdir: Path, front: int, ref: int, gws: list[int], svv_port: int, basic: str
) -> Path:
    """nginx: ``front`` balances the gateways; ``ref`` is proxy_pass straight to SVV."""
    prefix = workdir / "nginx"
    for d in ("logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in gws)
    conf = f"""worker_processes 1;
user root;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    upstream gateways {{ {servers} keepalive 64; }}
    upstream svv {{ server 127.0.0.1:{svv_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{front};
        location / {{
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
            proxy_read_timeout 40s;
        }}
    }}
    server {{
        listen 127.0.0.1:{ref};
        location ~ ^/kjoretoyregister/api/[^/]+/(rest/.*)$ {{
            proxy_pass http://svv{SVV_BASE_PATH}/$1$is_args$args;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "{basic}";
            proxy_set_header IntegrasjonId "";
            proxy_set_header IntegrasjonPassord "";
        }}
    }}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def start_nginx(conf: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground (``daemon off``), so it can be stopped by its own pid."""
    return subprocess.Popen(
        ["nginx", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


class Load:
    """Open-loop load on the gateway path and the nginx reference path."""

    def __init__(self, stack: Stack, front: str, ref: str, plates: list[str], vins: list[str]):
        self.stack, self.front, self.ref = stack, front, ref
        self.plates, self.vins = plates, vins
        self.gateway, self.reference = Tally(), Tally()
        self.token = ""
        self.outstanding = 0
        self.rng = random.Random(9)

    def _request(self) -> tuple[str, str, bytes | None, int]:
        r = self.rng.random()
        base = f"/{self.stack.fiks_org_id}/rest/distribusjon/kjoretoy/v2.0/"
        if r < 0.7:
            n = self.rng.randint(1, 5)
            body = orjson.dumps([{"kjennemerke": p} for p in self.rng.sample(self.plates, n)])
            return "POST", base + "bulk/kjennemerke", body, n
        if r < 0.9:
            return (
                "GET",
                base + f"sok/kjennemerke?kjennemerke={self.rng.choice(self.plates)}",
                None,
                1,
            )
        return "GET", base + f"bulk/understellsnummer/{self.rng.choice(self.vins)}", None, 1

    async def one(self, http: aiohttp.ClientSession, root: str, tally: Tally) -> None:
        method, path, body, items = self._request()
        cid = str(uuid.uuid4())
        headers = {**self.stack.headers(self.token), "X-Request-ID": cid}
        if body is not None:
            headers["Content-Type"] = "application/json"
        tally.sent += 1
        self.outstanding += 1
        started = time.perf_counter()
        try:
            async with http.request(
                method, root + "/kjoretoyregister/api" + path, data=body, headers=headers
            ) as resp:
                raw = await resp.read()
                tally.latencies.append(time.perf_counter() - started)
                if 200 <= resp.status < 300:
                    tally.classes[str(resp.status)] += 1
                    tally.ok_cids[cid] = items
                    return
                code = None
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                    code = orjson.loads(raw).get("errorCode")
                tally.classes[f"{resp.status} {code or '(upstream/proxy body)'}"] += 1
        except TimeoutError:
            tally.classes["client:timeout"] += 1
        except aiohttp.ClientError as exc:
            tally.classes[f"client:{type(exc).__name__}"] += 1
        finally:
            self.outstanding -= 1


async def sample_rss(
    instances: list[Instance], out: dict[int, list[tuple[float, int]]], t0: float
) -> None:
    while True:
        for i, inst in enumerate(instances):
            if inst.proc.poll() is None:
                try:
                    rss = psutil.Process(inst.proc.pid).memory_info().rss
                except psutil.Error:
                    continue
                out.setdefault(i, []).append((time.monotonic() - t0, rss))
        await asyncio.sleep(5)


def kill_db_connections(admin_url: str, app_name: str) -> int:
    engine = make_engine(admin_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :a AND pid <> pg_backend_pid()"
                ),
                {"a": app_name},
            ).all()
        return len(rows)
    finally:
        engine.dispose()


def audit_check(url: str, tally: Tally) -> dict[str, Any]:
    """Every 2xx the client got must have its audit entry, with one item per item asked; and
    the chain verifies, as `audit verify` would say."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.correlation_id, e.http_status, count(i.pos) FROM audit_entry e "
                    "LEFT JOIN audit_item i ON i.entry_seq = e.seq WHERE e.kind = 'lookup' "
                    "GROUP BY e.seq, e.correlation_id, e.http_status"
                )
            ).all()
        # What `kjoretoyregister audit verify` checks: the chain links, hashes and head.
        report = verify(engine)
    finally:
        engine.dispose()
    audited = {cid: (status, int(n)) for cid, status, n in rows}
    ok = tally.ok_cids
    missing = [cid for cid in ok if cid not in audited]
    wrong_items = [cid for cid, n in ok.items() if cid in audited and audited[cid][1] != n]
    audited_2xx = sum(1 for s, _ in audited.values() if s is not None and 200 <= s < 300)
    return {
        "client_2xx": len(ok),
        "audit_entries": len(audited),
        "audit_entries_2xx": audited_2xx,
        "client_2xx_without_audit_entry": len(missing),
        "client_2xx_with_wrong_item_count": len(wrong_items),
        "audited_2xx_not_received_by_client": audited_2xx - (len(ok) - len(missing)),
        "items_asked_in_2xx": sum(ok.values()),
        "chain_verifies": report.ok,
        "chain_entries_checked": report.checked,
    }


def rss_report(samples: dict[int, list[tuple[float, int]]]) -> dict[str, Any]:
    report = {}
    for i, series in samples.items():
        mb = [r / 2**20 for _, r in series]
        if not mb:
            continue
        warm = mb[min(len(mb) - 1, max(1, len(mb) // 10))]  # after the first tenth (warm-up)
        report[f"instance{i}"] = {
            "samples": len(mb),
            "first_mb": round(mb[0], 1),
            "after_warmup_mb": round(warm, 1),
            "last_mb": round(mb[-1], 1),
            "max_mb": round(max(mb), 1),
            "growth_after_warmup_mb": round(mb[-1] - warm, 1),
        }
    return report


async def run(args: argparse.Namespace) -> dict[str, Any]:
    duration = args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="kjr-soak-"))
    register = ensure_register(workdir / "register.sqlite", vehicles=2000, seed=11)
    app_name = "kjr-soak-" + uuid.uuid4().hex[:8]
    with postgres_schema(args.database_url, migrate=False) as url:
        url = (
            make_url(url)
            .update_query_dict({"application_name": app_name})
            .render_as_string(hide_password=False)
        )
        env = {
            "KJR_GATEWAY__REDIS_URL": args.redis_url,
            "KJR_GATEWAY__REDIS_PREFIX": app_name,
            "KJR_GATEWAY__RATE_ORG_PER_S": str(int(args.rate * 20)),
            "KJR_LOG_LEVEL": "WARNING",
        }
        async with start_cluster(
            workdir, url, register_path=register, env=env, authz_cache_s=30
        ) as (stack, instances):
            assert stack.register is not None
            plates = stack.register.sample_kjennemerker(200, seed=3)
            vins = ["SISDINKY45727043"]
            front, ref = free_port(), free_port()
            basic = (
                "Basic "
                + base64.b64encode(f"{stack.svv_user}:{stack.svv_password}".encode()).decode()
            )
            svv_port = int(stack.svv_root.rsplit(":", 1)[1])
            conf = nginx_conf(workdir, front, ref, [i.port for i in instances], svv_port, basic)
            nginx = start_nginx(conf)
            try:
                return await _drive(
                    args, duration, stack, instances, front, ref, plates, vins, url, app_name
                )
            finally:
                nginx.terminate()
                nginx.wait(10)
                shutil.rmtree(workdir, ignore_errors=True)
    raise AssertionError("unreachable")


async def _drive(
    args: argparse.Namespace,
    duration: float,
    stack: Stack,
    instances: list[Instance],
    front: int,
    ref: int,
    plates: list[str],
    vins: list[str],
    url: str,
    app_name: str,
) -> dict[str, Any]:
    await asyncio.sleep(0.5)  # nginx up
    load = Load(stack, f"http://127.0.0.1:{front}", f"http://127.0.0.1:{ref}", plates, vins)
    load.token = await stack.token()
    events: list[str] = []
    rss: dict[int, list[tuple[float, int]]] = {}
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample_rss(instances, rss, t0))
    schedule = [
        (0.20, "svv outage on"),
        (0.30, "svv outage off"),
        (0.45, "kill db connections"),
        (0.70, "kill -9 instance 1"),
    ]
    timeout = aiohttp.ClientTimeout(total=45)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=400)
    ) as http:
        interval = 1.0 / args.rate
        n = 0
        next_token = t0 + 60
        while (now := time.monotonic()) - t0 < duration:
            while schedule and now - t0 >= schedule[0][0] * duration:
                _, what = schedule.pop(0)
                at = round(now - t0, 1)
                if what == "svv outage on":
                    await stack.sim_faults(outage=True)
                elif what == "svv outage off":
                    await stack.sim_faults(outage=False)
                elif what == "kill db connections":
                    killed = await asyncio.to_thread(
                        kill_db_connections, args.database_url, app_name
                    )
                    what += f" ({killed} terminated)"
                else:
                    instances[1].kill()
                events.append(f"{at:>7.1f} s  {what}")
                print(events[-1], flush=True)
            if now >= next_token:
                load.token = await stack.token()
                next_token = now + 60
            if load.outstanding < 800:
                for root, tally in ((load.front, load.gateway), (load.ref, load.reference)):
                    task = asyncio.create_task(load.one(http, root, tally))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            else:
                load.gateway.classes["client:skipped (800 outstanding)"] += 1
            n += 1
            delay = t0 + n * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
    sampler.cancel()
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1)  # let the audit writers' last commits land
    return {
        "minutes": args.minutes,
        "rate_per_path": args.rate,
        "elapsed_s": round(elapsed, 1),
        "events": events,
        "gateway_via_nginx_lb": load.gateway.summary(),
        "nginx_proxy_pass_reference": load.reference.summary(),
        "rss": rss_report(rss),
        "audit": await asyncio.to_thread(audit_check, url, load.gateway),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="Soak length (default 10)")
    parser.add_argument("--rate", type=float, default=40.0, help="Requests/s offered to each path")
    parser.add_argument("--database-url", default=PG, help="PostgreSQL database for a fresh schema")
    parser.add_argument("--redis-url", default=REDIS)
    parser.add_argument("--json", type=Path, help="Also write the report here")
    args = parser.parse_args()
    if not 0 < args.minutes <= 60 or not 0 < args.rate <= 500:
        sys.exit("--minutes must be in (0, 60] and --rate in (0, 500]")
    if shutil.which("nginx") is None:
        sys.exit("nginx not found: apt-get install -y nginx")
    configure_logging("WARNING")  # the in-process simulator logs every request at DEBUG
    report = asyncio.run(run(args))
    text_report = json.dumps(report, indent=2, ensure_ascii=False)
    print(text_report)
    if args.json:
        args.json.write_text(text_report)
    audit = report["audit"]
    if audit["client_2xx_without_audit_entry"] or audit["client_2xx_with_wrong_item_count"]:
        sys.exit("FAIL: a 2xx answer without its audit records")


if __name__ == "__main__":
    main()

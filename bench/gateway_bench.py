"""Gateway vs nginx proxy_pass vs direct, side by side, on the same upstreams (loopback only).

Two upstreams: a fixed-response aiohttp server (``gateway_fixed_upstream.py``) and the SVV
simulator on a generated register. For each upstream, these configurations get the same
``POST …/bulk/kjennemerke`` (one plate, the three Fiks headers):

- ``direct``: the upstream itself (with SVV Basic auth);
- ``nginx 1w`` / ``nginx 2w``: nginx ``proxy_pass`` with a keep-alive upstream pool, rewriting
  the path and injecting the Basic credentials (no checks);
- ``aiohttp proxy 1w``: the ceiling of the gateway's own stack, an aiohttp server forwarding
  with aiohttp's client and nothing else (``aiohttp_bare_proxy.py``; no checks, no audit);
- ``gateway 1w`` / ``gateway 2w``: ``kjoretoyregister gateway serve --workers N --audit none``
  (``--audit durable`` to include the durable audit log) with every check on (token verified
  — then cached until exp —, integration password via Konfigurasjon, activation + privilege,
  input validation, audit items built);
- ``gateway pg 1w`` / ``gateway pg 2w`` (with ``--stores sqlite,postgresql``): the same with
  Konfigurasjon and the audit log on PostgreSQL (a fresh schema in the local ``test``
  database, dropped afterwards) instead of SQLite.

Two load shapes per configuration: a fixed offered load of 500 req/s (our own bounded aiohttp
generator on a fixed schedule; latency measured from the scheduled send time, so queueing
counts) and saturation (``wrk -t2 -c64`` with a Lua script adding headers and body). Rounds
are interleaved; the report gives medians of ``--rounds`` rounds and the ratios.

Usage: ``.venv/bin/python bench/gateway_bench.py [--rounds 3] [--seconds 3]``; the issue's
table is ``--upstreams fixed --audit durable --stores sqlite,postgresql``. Needs ``nginx``
and ``wrk`` (``apt-get install -y nginx wrk``). Every process it starts is stopped by its own
process group; the whole run is bounded (about 4 minutes with the defaults).
"""

# urllib only ever opens http://127.0.0.1 URLs built in this file:
# ruff: noqa: S310

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
KJR = [PY, "-m", "kjoretoyregister"]
SVV_BASE = "/ws/no/vegvesen/kjoretoy/felles/v2"
API = "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
BODY = b'[{"kjennemerke":"CU11297"}]'
RATE = 500
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Gateway config name prefix per store (the report orders rows by these).
STORE_PREFIX = {"sqlite": "gateway", "postgresql": "gateway pg"}
ORDER = ["direct", "nginx 1w", "nginx 2w", "aiohttp proxy 1w", "gateway 1w", "gateway 2w"]
ORDER += ["gateway pg 1w", "gateway pg 2w"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Procs:
    """Processes started here; each is a session leader, stopped by its own group."""

    items: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, start_new_session=True, cwd=ROOT)
        self.items.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.items):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for p in reversed(self.items):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def wait_http(url: str, timeout: float = 30, headers: dict[str, str] | None = None) -> None:
    """Wait until ``url`` answers at all (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def nginx_conf(tmp: Path, workers: int, routes: dict[int, int], basic: str) -> Path:
    """An nginx config: listen port → upstream port, path rewritten, credentials injected."""
    prefix = tmp / f"nginx{workers}"
    for d in ("logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    ups, servers = [], []
    for listen, up in routes.items():
        ups.append(f"upstream u{listen} {{ server 127.0.0.1:{up}; keepalive 128; }}")
        servers.append(
            f"""server {{
    listen 127.0.0.1:{listen} reuseport;
    location ~ ^/kjoretoyregister/api/[^/]+/(rest/.*)$ {{
        proxy_pass http://u{listen}{SVV_BASE}/$1$is_args$args;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Authorization "{basic}";
        proxy_set_header IntegrasjonId "";
        proxy_set_header IntegrasjonPassord "";
    }}
}}"""
        )
    conf = f"""worker_processes {workers};
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
    keepalive_requests 1000000;
    {chr(10).join(ups)}
    {chr(10).join(servers)}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def lua_script(tmp: Path, name: str, headers: dict[str, str]) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = '{BODY.decode()}'"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path = tmp / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def cpu_of_group(pgid: int) -> float:
    """utime + stime (seconds) of every live process in process group ``pgid``."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, seconds: float, pgid: int) -> dict[str, float]:
    cpu0 = cpu_of_group(pgid)
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_us = (cpu_of_group(pgid) - cpu0) * 1e6 / max(total, 1)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "non2xx": float(non2xx.group(1)) if non2xx else 0,
        "cpu_us": cpu_us,
    }


async def fixed_rate(
    url: str, headers: dict[str, str], seconds: float, rate: float = RATE
) -> dict[str, float]:
    """Offer ``rate`` req/s on a fixed schedule; latency counts from the scheduled send time."""
    loop = asyncio.get_running_loop()
    hdrs = {**headers, "Content-Type": "application/json"}
    latencies: list[float] = []
    bad = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as s:

        async def warm() -> None:
            async with s.post(url, data=BODY, headers=hdrs) as r:
                await r.read()

        # Warm the pool and every worker's caches (token, authorization, Argon2 verify): 50
        # requests one after another went over one connection, so with two workers only one
        # was warm, and the other paid a cold verify (~0.2-0.7 s) inside the measurement.
        for _ in range(3):
            await asyncio.gather(*(warm() for _ in range(32)))
        n = int(rate * seconds)
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            nonlocal bad
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            async with s.post(url, data=BODY, headers=hdrs) as r:
                await r.read()
                if r.status != 200:
                    bad += 1
            latencies.append((loop.time() - due) * 1000)

        await asyncio.gather(*(one(i) for i in range(n)))
        achieved = n / (loop.time() - start)
    latencies.sort()
    return {
        "rps": achieved,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "non2xx": float(bad),
    }


@contextmanager
def stack(
    tmp: Path,
    vehicles: int,
    upstreams: list[str],
    authz_cache_s: float,
    audit: str,
    stores: list[str],
) -> Iterator[dict[str, Any]]:
    """Start upstreams, Maskinporten, nginx 1w/2w and gateways 1w/2w per store; yield URLs."""
    from kjoretoyregister import demo
    from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider
    from kjoretoyregister.store.testing import postgres_schema

    procs = Procs()
    dbs_stack = ExitStack()
    log = tmp / "servers.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KJR_")}
    env.update({"KJR_DATA_DIR": str(tmp / "data"), "KJR_LOG_LEVEL": "WARNING"})
    try:
        dbs = {"sqlite": f"sqlite:///{tmp / 'konfig.db'}"}
        if "postgresql" in stores:
            dbs["postgresql"] = dbs_stack.enter_context(postgres_schema(PG_URL))
        dbs = {k: v for k, v in dbs.items() if k in stores}
        seeded_by = {store: demo.seed(url) for store, url in dbs.items()}
        # nginx checks nothing: any store's integration will do for its headers.
        seeded = next(iter(seeded_by.values()))
        kid, key_path = demo.ensure_client(tmp / "mp", tmp)
        svv_pw = base64.urlsafe_b64encode(os.urandom(12)).decode().rstrip("=")
        basic = "Basic " + base64.b64encode(f"fiks:{svv_pw}".encode()).decode()

        ports = {k: free_port() for k in (*upstreams, "mp")}
        pgid: dict[str, dict[str, int]] = {up: {} for up in upstreams}
        if "fixed" in upstreams:
            cmd = [PY, str(HERE / "gateway_fixed_upstream.py"), str(ports["fixed"])]
            pgid["fixed"]["direct"] = procs.start(cmd, env, log).pid
        if "sim" in upstreams:
            from kjoretoyregister.svv.generate import generate

            reg = tmp / "register.sqlite"
            generate(reg, vehicles=vehicles, seed=11)
            cmd = [*KJR, "svv", "serve", "--data", str(reg), "--port", str(ports["sim"])]
            pgid["sim"]["direct"] = procs.start([*cmd, "--user", f"fiks:{svv_pw}"], env, log).pid
        mp_dir = str(tmp / "mp")
        cmd = [*KJR, "maskinporten", "serve", "--port", str(ports["mp"]), "--state-dir", mp_dir]
        procs.start([*cmd, "--token-lifetime-s", "3600"], env, log)
        issuer = f"http://127.0.0.1:{ports['mp']}/"
        for name in upstreams:
            wait_http(f"http://127.0.0.1:{ports[name]}/")
        wait_http(issuer + ".well-known/oauth-authorization-server")

        urls: dict[str, dict[str, str]] = {up: {} for up in upstreams}
        for up in upstreams:
            urls[up]["direct"] = f"http://127.0.0.1:{ports[up]}{SVV_BASE}{API}"
        api = f"/kjoretoyregister/api/{seeded.fiks_org_id}{API}"
        for workers in (1, 2):
            routes = {free_port(): ports[up] for up in upstreams}
            conf = nginx_conf(tmp, workers, routes, basic)
            nginx = procs.start(["nginx", "-c", str(conf)], env, log).pid
            for listen, up in zip(routes, upstreams, strict=True):
                urls[up][f"nginx {workers}w"] = f"http://127.0.0.1:{listen}{api}"
                pgid[up][f"nginx {workers}w"] = nginx
        for up in upstreams:
            # The stack's own ceiling: aiohttp server + client, nothing else (one process).
            port = free_port()
            cmd = [PY, str(HERE / "aiohttp_bare_proxy.py"), str(port)]
            cmd += [f"http://127.0.0.1:{ports[up]}{SVV_BASE}", basic]
            pgid[up]["aiohttp proxy 1w"] = procs.start(cmd, env, log).pid
            urls[up]["aiohttp proxy 1w"] = f"http://127.0.0.1:{port}{api}"
        genv = {**env, "KJR_GATEWAY__SVV_PASSWORD": svv_pw}
        headers_of: dict[str, str] = {}  # config name -> which Fiks headers it takes
        for up in upstreams:
            for store, db in dbs.items():
                for workers in (1, 2):
                    port = free_port()
                    cmd = [*KJR, "gateway", "serve", "--port", str(port), "--svv-user", "fiks"]
                    cmd += ["--svv-url", f"http://127.0.0.1:{ports[up]}{SVV_BASE}"]
                    cmd += ["--maskinporten-issuer", issuer, "--database-url", db]
                    cmd += ["--workers", str(workers), "--audit", audit]
                    cmd += ["--authz-cache-s", str(authz_cache_s)]
                    name = f"{STORE_PREFIX[store]} {workers}w"
                    org_api = f"/kjoretoyregister/api/{seeded_by[store].fiks_org_id}{API}"
                    pgid[up][name] = procs.start(cmd, genv, log).pid
                    urls[up][name] = f"http://127.0.0.1:{port}{org_api}"
                    headers_of[name] = f"fiks {store}"
        for configs in urls.values():
            for url in configs.values():
                wait_http(url.split(API)[0].split("/kjoretoyregister")[0].split(SVV_BASE)[0] + "/")
        provider = MaskinportenTokenProvider(
            token_url=issuer + "token",
            issuer=issuer,
            client_id=demo.DEMO_CLIENT_ID,
            private_key=key_path.read_bytes(),
            kid=kid,
        )
        token = f"Bearer {provider.token()}"
        headers = {
            f"fiks {store}": {
                "Authorization": token,
                "IntegrasjonId": sd.integrasjon_id,
                "IntegrasjonPassord": sd.integrasjon_passord,
            }
            for store, sd in seeded_by.items()
        }
        headers["basic"] = {"Authorization": basic}
        headers["fiks"] = headers[f"fiks {next(iter(seeded_by))}"]
        yield {"urls": urls, "pgid": pgid, "headers": headers, "headers_of": headers_of}
    finally:
        procs.stop_all()
        dbs_stack.close()


def check(url: str, headers: dict[str, str]) -> None:
    req = urllib.request.Request(
        url, data=BODY, headers={**headers, "Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        if r.status != 200 or b"kjoretoy" not in body:
            raise RuntimeError(f"smoke failed for {url}: {r.status} {body[:120]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    ap.add_argument("--vehicles", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=None, help="write raw results as JSON")
    ap.add_argument("--upstreams", default="fixed,sim", help="comma list of fixed, sim")
    ap.add_argument("--rate", type=float, default=RATE, help="fixed offered load, req/s")
    ap.add_argument(
        "--audit", choices=("none", "durable"), default="none", help="gateway audit sink"
    )
    ap.add_argument(
        "--authz-cache-s", type=float, default=10.0, help="gateway decision cache (0 = strict)"
    )
    ap.add_argument(
        "--stores",
        default="sqlite",
        help="comma list of sqlite, postgresql: where the gateways keep Konfigurasjon + audit",
    )
    args = ap.parse_args()
    stores = [x for x in args.stores.split(",") if x]
    if not stores or set(stores) - set(STORE_PREFIX):
        sys.exit(f"--stores takes a comma list of {', '.join(STORE_PREFIX)}, not {args.stores!r}")
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y nginx wrk")
    t0 = time.monotonic()
    raw: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kjr-gwbench-") as d:
        tmp = Path(d)
        upstreams = [u for u in args.upstreams.split(",") if u]
        with stack(tmp, args.vehicles, upstreams, args.authz_cache_s, args.audit, stores) as s:
            hdrs = s["headers"]
            scripts = {k: lua_script(tmp, k.replace(" ", "_"), v) for k, v in hdrs.items()}

            def kind_of(name: str) -> str:
                return "basic" if name == "direct" else s["headers_of"].get(name, "fiks")

            for configs in s["urls"].values():
                for name, url in configs.items():
                    check(url, hdrs[kind_of(name)])
            print(f"stack up and checked in {time.monotonic() - t0:.0f} s", flush=True)
            for rnd in range(1, args.rounds + 1):
                for up, configs in s["urls"].items():
                    for name, url in configs.items():
                        kind = kind_of(name)
                        fr = asyncio.run(fixed_rate(url, hdrs[kind], args.seconds, args.rate))
                        group = s["pgid"][up][name]
                        wrk(url, scripts[kind], 1, group)  # warm-up
                        sat = wrk(url, scripts[kind], args.seconds, group)
                        raw.append(
                            {
                                "round": rnd,
                                "upstream": up,
                                "config": name,
                                "fixed": fr,
                                "saturation": sat,
                            }
                        )
                        print(
                            f"[r{rnd}] {up:5} {name:13} {args.rate:.0f}/s: p50 {fr['p50']:6.2f} ms "
                            f"p99 {fr['p99']:6.2f} ms ({fr['rps']:.0f}/s, "
                            f"non2xx {fr['non2xx']:.0f})"
                            f" | sat: {sat['rps']:8.0f}/s p50 {sat['p50']:6.2f} p99 "
                            f"{sat['p99']:6.2f} ms non2xx {sat['non2xx']:.0f} "
                            f"cpu {sat['cpu_us']:.0f} us/req",
                            flush=True,
                        )
    if args.out:
        args.out.write_text(json.dumps(raw, indent=1))
    report(raw)
    print(f"\ntotal {time.monotonic() - t0:.0f} s")


def report(raw: list[dict[str, Any]]) -> None:
    def med(up: str, cfg: str, shape: str, key: str) -> float:
        return statistics.median(
            r[shape][key] for r in raw if r["upstream"] == up and r["config"] == cfg
        )

    print(
        "\n| upstream | config | fixed-rate p50 ms | fixed-rate p99 ms | sat req/s | sat p50 ms | "
        "sat p99 ms | server CPU µs/req | vs nginx (same w) | p50 (fixed rate) vs direct |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for up in dict.fromkeys(r["upstream"] for r in raw):
        cfgs = sorted(
            {r["config"] for r in raw if r["upstream"] == up},
            key=ORDER.index,
        )
        direct_p50 = med(up, "direct", "fixed", "p50")
        for cfg in cfgs:
            sat = med(up, cfg, "saturation", "rps")
            w = cfg.split()[-1] if cfg != "direct" else ""
            ratio = f"{sat / med(up, f'nginx {w}', 'saturation', 'rps'):.2f}×" if w else "—"
            delta = med(up, cfg, "fixed", "p50") - direct_p50
            print(
                f"| {up} | {cfg} | {med(up, cfg, 'fixed', 'p50'):.2f} | "
                f"{med(up, cfg, 'fixed', 'p99'):.2f} | {sat:,.0f} | "
                f"{med(up, cfg, 'saturation', 'p50'):.2f} | "
                f"{med(up, cfg, 'saturation', 'p99'):.2f} | "
                f"{med(up, cfg, 'saturation', 'cpu_us'):.0f} | {ratio} | {delta:+.2f} ms |"
            )


if __name__ == "__main__":
    main()

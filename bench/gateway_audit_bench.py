"""Gateway throughput with durable audit vs audit off, on SQLite and PostgreSQL, same run.

Four gateways (1 worker each, every check on) in front of the same fixed-response upstream
(``gateway_fixed_upstream.py``): ``--audit none`` and ``--audit durable`` with the database
(Konfigurasjon + audit) on SQLite, and the same two on PostgreSQL (a fresh schema in the
``test`` database). Comparing *none* with *durable* on the same database isolates what the
durable audit costs. Each measurement: ``wrk -t2 -c64`` saturation for ``--seconds``; rounds
are interleaved and the report gives medians. After the run, each durable audit chain is
verified and its entry count compared with the requests that got a 200.

Usage: ``.venv/bin/python bench/gateway_audit_bench.py [--rounds 3] [--seconds 5]``.
Needs ``wrk``; reuses the process handling of ``gateway_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateway_bench as gb  # noqa: E402 - a sibling script, not a package

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONFIGS = ("sqlite none", "sqlite durable", "postgresql none", "postgresql durable")


@contextmanager
def _databases(tmp: Path) -> Iterator[dict[str, str]]:
    from kjoretoyregister.store.testing import postgres_schema

    with ExitStack() as stack:
        dbs = {"sqlite": f"sqlite:///{tmp / 'kjr.db'}"}
        if gb.socket.socket().connect_ex(("127.0.0.1", 5432)) == 0:
            dbs["postgresql"] = stack.enter_context(postgres_schema(PG_URL))
        else:
            print("postgresql not reachable: only SQLite is measured")
        yield dbs


@contextmanager
def stack(tmp: Path) -> Iterator[dict[str, Any]]:
    """Upstream, Maskinporten and the four gateways; yields URLs, headers and databases."""
    from kjoretoyregister import demo
    from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider

    procs = gb.Procs()
    log = tmp / "servers.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KJR_")}
    env.update(
        {
            "KJR_DATA_DIR": str(tmp / "data"),
            "KJR_LOG_LEVEL": "WARNING",
            "KJR_AUDIT_SECRET": "bench-audit-secret-0123456789abcdef",
        }
    )
    try:
        with _databases(tmp) as dbs:
            seeded = {name: demo.seed(url) for name, url in dbs.items()}
            kid, key_path = demo.ensure_client(tmp / "mp", tmp)
            up_port, mp_port = gb.free_port(), gb.free_port()
            procs.start([gb.PY, str(HERE / "gateway_fixed_upstream.py"), str(up_port)], env, log)
            mp_cmd = [*gb.KJR, "maskinporten", "serve", "--port", str(mp_port)]
            mp_cmd += ["--state-dir", str(tmp / "mp"), "--token-lifetime-s", "3600"]
            procs.start(mp_cmd, env, log)
            issuer = f"http://127.0.0.1:{mp_port}/"
            gb.wait_http(f"http://127.0.0.1:{up_port}/")
            gb.wait_http(issuer + ".well-known/oauth-authorization-server")
            genv = {**env, "KJR_GATEWAY__SVV_PASSWORD": "unused"}
            urls: dict[str, str] = {}
            pgid: dict[str, int] = {}
            for name in CONFIGS:
                backend, audit = name.split()
                if backend not in dbs:
                    continue
                port = gb.free_port()
                cmd = [*gb.KJR, "gateway", "serve", "--port", str(port), "--svv-user", "fiks"]
                cmd += ["--svv-url", f"http://127.0.0.1:{up_port}{gb.SVV_BASE}"]
                cmd += ["--maskinporten-issuer", issuer, "--database-url", dbs[backend]]
                cmd += ["--audit", audit]
                pgid[name] = procs.start(cmd, genv, log).pid
                api = f"/kjoretoyregister/api/{seeded[backend].fiks_org_id}{gb.API}"
                urls[name] = f"http://127.0.0.1:{port}{api}"
            for url in urls.values():
                gb.wait_http(url.split("/kjoretoyregister")[0] + "/")
            provider = MaskinportenTokenProvider(
                token_url=issuer + "token",
                issuer=issuer,
                client_id=demo.DEMO_CLIENT_ID,
                private_key=key_path.read_bytes(),
                kid=kid,
            )
            token = provider.token()
            headers = {
                name: {
                    "Authorization": f"Bearer {token}",
                    "IntegrasjonId": seeded[name.split()[0]].integrasjon_id,
                    "IntegrasjonPassord": seeded[name.split()[0]].integrasjon_passord,
                }
                for name in urls
            }
            yield {"urls": urls, "pgid": pgid, "headers": headers, "dbs": dbs}
    finally:
        procs.stop_all()


def _chain_summary(url: str) -> tuple[bool, int]:
    from kjoretoyregister.audit.verify import verify
    from kjoretoyregister.store.db import make_engine

    engine = make_engine(url)
    try:
        report = verify(engine)
        return report.ok, report.head_seq
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    t0 = time.monotonic()
    raw: dict[str, list[dict[str, float]]] = {}
    ok200: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kjr-auditbench-") as d:
        tmp = Path(d)
        with stack(tmp) as s:
            scripts = {
                n: gb.lua_script(tmp, n.replace(" ", "_"), h) for n, h in s["headers"].items()
            }
            for name, url in s["urls"].items():
                gb.check(url, s["headers"][name])
            print(f"stack up in {time.monotonic() - t0:.0f} s", flush=True)
            for rnd in range(1, args.rounds + 1):
                for name, url in s["urls"].items():
                    gb.wrk(url, scripts[name], 1, s["pgid"][name])  # warm-up
                    r = gb.wrk(url, scripts[name], args.seconds, s["pgid"][name])
                    raw.setdefault(name, []).append(r)
                    ok200[name] = ok200.get(name, 0) + r["rps"] * args.seconds
                    print(
                        f"[r{rnd}] {name:19} {r['rps']:7.0f}/s p50 {r['p50']:6.2f} ms "
                        f"p99 {r['p99']:6.2f} ms non2xx {r['non2xx']:.0f} "
                        f"cpu {r['cpu_us']:.0f} us/req",
                        flush=True,
                    )
            chains = {b: _chain_summary(u) for b, u in s["dbs"].items()}
    print("\n| database | audit | req/s | p50 ms | p99 ms | server CPU µs/req | vs audit off |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in raw.items():
        backend, audit = name.split()
        rps = statistics.median(r["rps"] for r in rows)
        base = statistics.median(r["rps"] for r in raw[f"{backend} none"])
        p50 = statistics.median(r["p50"] for r in rows)
        p99 = statistics.median(r["p99"] for r in rows)
        cpu = statistics.median(r["cpu_us"] for r in rows)
        print(
            f"| {backend} | {audit} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {cpu:.0f} | "
            f"{rps / base:.2f}× |"
        )
    for backend, (ok, entries) in chains.items():
        print(
            f"{backend}: audit chain {'verifies' if ok else 'DOES NOT VERIFY'}, {entries} entries"
        )
    print(f"\ntotal {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()

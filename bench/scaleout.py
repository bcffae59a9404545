"""Two gateway instances, one PostgreSQL schema, one Redis: how fast do changes reach both?

Starts two ``kjoretoyregister gateway serve`` processes (decision cache on, 30 s) and measures,
per instance, the time from a commit in *this* process (another process, as the admin API
would be) until the instance answers accordingly:

1. a grant revoked (EIERSOK) → 403 on sok/fodselsnummer;
2. a new password → the old one 401;
3. one org rate limit (``--limit`` req/s) shared through Redis: a burst of 2 x limit requests
   spread over both instances → how many 200s in total.

Usage: ``.venv/bin/python bench/scaleout.py [--poll 1.0] [--limit 20]`` (loopback only,
PostgreSQL on 127.0.0.1:5432 database ``test``, Redis on 127.0.0.1:6379; about 20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cluster import Instance, start_cluster
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.privileges import EIERSOK
from kjoretoyregister.logs import configure_logging
from kjoretoyregister.store.testing import postgres_schema
from stack import Stack, ensure_register

SOK_FNR = "sok/fodselsnummer?fodselsnummer=01818012337"


async def status(stack: Stack, inst: Instance, token: str, tail: str, pw: str) -> int:
    headers = {**stack.headers(token), "IntegrasjonPassord": pw}
    if tail.startswith("bulk/"):
        headers["Content-Type"] = "application/json"
        body = orjson.dumps([{"kjennemerke": "CU11297"}])
        async with stack.http.post(inst.api(stack, tail), data=body, headers=headers) as r:
            return r.status
    async with stack.http.get(inst.api(stack, tail), headers=headers) as r:
        return r.status


async def seen_after(
    stack: Stack, inst: Instance, token: str, tail: str, pw: str, want: int, t0: float
) -> float:
    while await status(stack, inst, token, tail, pw) != want:
        if time.monotonic() - t0 > 30:
            return float("inf")
        await asyncio.sleep(0.01)
    return round((time.monotonic() - t0) * 1000, 1)


async def run(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="kjr-scaleout-"))
    register = ensure_register(work / "register.sqlite")
    env = {
        "KJR_GATEWAY__REDIS_URL": args.redis_url,
        "KJR_GATEWAY__REDIS_PREFIX": "kjr-scaleout-" + uuid.uuid4().hex[:8],
        "KJR_GATEWAY__RATE_ORG_PER_S": str(args.limit),
        "KJR_GATEWAY__AUTHZ_INVALIDATION_POLL_S": str(args.poll),
        "KJR_LOG_LEVEL": "WARNING",
    }
    with postgres_schema(args.database_url, migrate=False) as url, _cleanup(work):
        async with start_cluster(work, url, register_path=register, env=env, authz_cache_s=30) as (
            stack,
            instances,
        ):
            token = await stack.token()
            pw = stack.integrasjon_passord
            for inst in instances:
                await status(stack, inst, token, SOK_FNR, pw)
                await status(stack, inst, token, "bulk/kjennemerke", pw)
            with stack.session_factory.begin() as s:
                service.revoke(s, stack.integrasjon_id, stack.fiks_org_id, EIERSOK)
            t0 = time.monotonic()
            revoke = await asyncio.gather(
                *(seen_after(stack, i, token, SOK_FNR, pw, 403, t0) for i in instances)
            )
            with stack.session_factory.begin() as s:
                _, new_pw = service.new_password(s, stack.integrasjon_id)
            t0 = time.monotonic()
            password = await asyncio.gather(
                *(seen_after(stack, i, token, "bulk/kjennemerke", pw, 401, t0) for i in instances)
            )
            await asyncio.sleep(1.1)
            burst = await asyncio.gather(
                *(
                    status(stack, instances[n % 2], token, "bulk/kjennemerke", new_pw)
                    for n in range(2 * args.limit)
                )
            )
    return {
        "poll_s": args.poll,
        "revoke_seen_ms_per_instance": revoke,
        "password_change_seen_ms_per_instance": password,
        "rate_limit_per_s": args.limit,
        "burst_sent": len(burst),
        "burst_200": burst.count(200),
        "burst_429_per_instance": [burst[0::2].count(429), burst[1::2].count(429)],
    }


@contextmanager
def _cleanup(path: Path) -> Iterator[None]:
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poll", type=float, default=1.0, help="Invalidation poll interval, s")
    parser.add_argument("--limit", type=int, default=20, help="Org requests/s limit")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if not 0 < args.poll <= 10 or not 1 <= args.limit <= 1000:
        sys.exit("--poll in (0, 10], --limit in [1, 1000]")
    configure_logging("WARNING")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()

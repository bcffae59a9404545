"""Two gateway processes on one PostgreSQL schema and one Redis: changes and limits are shared.

Each instance is a real ``kjoretoyregister gateway serve`` process with the authorization
decision cache on (30 s), so the test also proves the invalidation bound: a grant revoked and
a password changed in *another* process (this test, through ``konfig.service``) take effect
on both instances within ``authz_invalidation_poll_s`` (0.5 s here) plus a query.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from cluster import Instance, start_cluster
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.privileges import EIERSOK
from kjoretoyregister.store.testing import postgres_schema
from stack import Stack

pytestmark = pytest.mark.slow

SOK_FNR = "sok/fodselsnummer?fodselsnummer=01818012337"
BOUND_S = 3.0  # poll 0.5 s + query + a lookup, with a wide margin for a busy 2-core box


async def _status(stack: Stack, inst: Instance, token: str, tail: str, passord: str) -> int:
    headers = {**stack.headers(token), "IntegrasjonPassord": passord}
    if tail.startswith("bulk/"):
        async with stack.http.post(
            inst.api(stack, tail),
            data=orjson.dumps([{"kjennemerke": "CU11297"}]),
            headers={**headers, "Content-Type": "application/json"},
        ) as resp:
            return resp.status
    async with stack.http.get(inst.api(stack, tail), headers=headers) as resp:
        return resp.status


async def _within(bound_s: float, probe: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``probe`` is true; fail after ``bound_s``."""
    started = time.monotonic()
    while not await probe():
        assert time.monotonic() - started < bound_s, f"not seen within {bound_s} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_two_instances_share_grants_passwords_and_limits(
    tmp_path: Path, register_path: Path, postgres_url: str, redis_url: str
) -> None:
    env = {
        "KJR_GATEWAY__REDIS_URL": redis_url,
        "KJR_GATEWAY__REDIS_PREFIX": "kjrtest-" + secrets.token_hex(6),
        "KJR_GATEWAY__RATE_ORG_PER_S": "20",
        "KJR_GATEWAY__AUTHZ_INVALIDATION_POLL_S": "0.5",
    }
    with postgres_schema(postgres_url, migrate=False) as url:
        async with start_cluster(
            tmp_path, url, register_path=register_path, env=env, authz_cache_s=30
        ) as (stack, (a, b)):
            token = await stack.token()
            pw = stack.integrasjon_passord
            for inst in (a, b):  # warm both decision caches
                assert await _status(stack, inst, token, SOK_FNR, pw) in (200, 204)
                assert await _status(stack, inst, token, "bulk/kjennemerke", pw) == 200

            # 1. A grant revoked elsewhere: both instances refuse within the bound.
            with stack.session_factory.begin() as s:
                service.revoke(s, stack.integrasjon_id, stack.fiks_org_id, EIERSOK)
            for inst in (a, b):

                async def revoked(inst: Instance = inst) -> bool:
                    return await _status(stack, inst, token, SOK_FNR, pw) == 403

                await _within(BOUND_S, revoked)
                # The other privilege is untouched.
                assert await _status(stack, inst, token, "bulk/kjennemerke", pw) == 200

            # 2. A new password elsewhere: the old one fails and the new one works on both.
            with stack.session_factory.begin() as s:
                _, new_pw = service.new_password(s, stack.integrasjon_id)
            for inst in (a, b):

                async def old_refused(inst: Instance = inst) -> bool:
                    return await _status(stack, inst, token, "bulk/kjennemerke", pw) == 401

                await _within(BOUND_S, old_refused)
                assert await _status(stack, inst, token, "bulk/kjennemerke", new_pw) == 200

            # 3. One org limit (20/s) counted across both instances in Redis.
            await asyncio.sleep(1.1)  # a fresh one-second window
            statuses = await asyncio.gather(
                *(
                    _status(stack, (a, b)[i % 2], token, "bulk/kjennemerke", new_pw)
                    for i in range(40)
                )
            )
            by_instance = [statuses[0::2], statuses[1::2]]
            assert 429 in by_instance[0] and 429 in by_instance[1]
            assert statuses.count(200) <= 30  # ≈ 20 shared, not 2 x 20 = 40
            assert statuses.count(200) >= 10
    # KJR_LOG_JSON=true (set by tests/cluster.py): every log line of both processes is a JSON
    # object (besides the start-up banner on stdout) and none carries an identifier or secret.
    for i in (0, 1):
        lines = (tmp_path / f"gateway{i}.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if not line.startswith("gateway on ")]
        assert any(r.get("event") == "request" for r in records)
        text = "\n".join(lines)
        for secret in ("CU11297", "01818012337", pw, new_pw, token):
            assert secret not in text

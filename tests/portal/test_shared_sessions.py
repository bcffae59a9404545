"""Two portal instances behind one address share sessions through Redis (issue 15).

Both instances use the real Redis at 127.0.0.1:6379 (each test its own key prefix; in CI its
absence is a failure) and one database file. A browser session logs in on A, looks up a
vehicle on B with the CSRF token it got on A, logs out on A — and B no longer knows it.
The session key in Redis is a hash of the cookie, never the cookie itself.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import aiohttp
import redis.asyncio as redis
from sqlalchemy import select

from kjoretoyregister.audit.models import AuditEntry
from portal.conftest import browser_session, csrf_of, login
from portal.helpers import EMPLOYEE, PortalStack, Template, start_portal_stack


def _at(s: PortalStack, root: str) -> PortalStack:
    return dataclasses.replace(s, root=root, portal_url=root + "/portal/")


async def _cookie(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == "kjr_portal")


async def test_session_moves_between_instances_and_logout_ends_it_everywhere(
    tmp_path: Path, register_path: Path, portal_template: Template, redis_url: str
) -> None:
    prefix = "kjrtest-" + secrets.token_hex(6)
    async with start_portal_stack(
        tmp_path / "stack",
        register_path=register_path,
        template=portal_template,
        portal={"redis_url": redis_url, "redis_prefix": prefix},
        instances=2,
    ) as s:
        root_a, root_b = s.extra["roots"]
        a, b = _at(s, root_a), _at(s, root_b)
        async with browser_session() as http:
            await login(http, a, EMPLOYEE.pid, EMPLOYEE.name)
            sid = await _cookie(http)
            headers = {"Cookie": f"kjr_portal={sid}"}  # the same browser, the other instance
            async with http.get(b.portal_url, headers=headers) as resp:
                page = await resp.text()
            assert f"Velkommen, {EMPLOYEE.name}" in page
            async with http.post(
                b.portal_url + "oppslag",
                headers=headers,
                data={
                    "csrf_token": csrf_of(page),  # the token made on A is valid on B
                    "kind": "kjennemerke",
                    "value": "CU11297",
                    "formaal": "Parkeringsgebyr",
                    "saksreferanse": "2026/1",
                },
            ) as resp:
                assert resp.status == 200
                assert "CU 11297" in await resp.text()
            with s.session_factory() as db:
                purposes = db.scalars(
                    select(AuditEntry.purpose).where(AuditEntry.kind == "lookup")
                ).all()
            assert purposes == ["Parkeringsgebyr"]

            async with http.get(a.portal_url, headers=headers) as resp:
                token = csrf_of(await resp.text())
            async with http.post(
                a.portal_url + "logg-ut", headers=headers, data={"csrf_token": token}
            ) as resp:
                assert "Du er logget ut." in await resp.text()
            after = await _cookie(http)  # the anonymous session the logout page started
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as fresh,
            fresh.get(b.portal_url + "oppslag", headers=headers, allow_redirects=False) as resp,
        ):
            assert resp.status == 303  # logged out on A: B does not know the session either

        client = redis.Redis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in client.scan_iter(f"{prefix}:portal:session:*")]
            assert keys and all(sid not in k and after not in k for k in keys)
            for key in keys:
                assert 0 < await client.pttl(key) <= s.settings.idle_timeout_s * 1000
                value = await client.get(key) or b""
                assert sid.encode() not in value and after.encode() not in value
        finally:
            await client.aclose()


async def test_unreachable_redis_is_503_not_500(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> None:
    """No session store, no portal: a clear 503 page (with the security headers), not a 500."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with (
        start_portal_stack(
            tmp_path / "stack",
            register_path=register_path,
            template=portal_template,
            portal={"redis_url": f"redis://127.0.0.1:{port}/0"},
        ) as s,
        browser_session() as http,
    ):
        for path in ("", "oppslag", "logg-inn"):
            async with http.get(
                s.portal_url + path, headers={"Cookie": "kjr_portal=abc"}, allow_redirects=False
            ) as resp:
                assert resp.status == 503, path
                assert "ikke tilgjengelig" in await resp.text()
                assert resp.headers["Cache-Control"] == "no-store"
                assert resp.headers["X-Frame-Options"] == "DENY"

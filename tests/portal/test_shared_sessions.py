"""Two portal instances behind one address share sessions and login limits (issue 15).

Sessions live in Redis when ``redis_url`` is set, else in the database; the instances share
one database (a SQLite file, or a fresh PostgreSQL schema per test) and, where used, the real
Redis at 127.0.0.1:6379 (each test its own key prefix). Missing services skip locally and fail
in CI. A browser session logs in on A, looks up a vehicle on B with the CSRF token it got on A
(audited with its purpose), logs out on A — and B no longer knows it. Stores name a session by
a hash of the cookie, never the cookie itself. Login attempts spread over A and B count
against one limit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from sqlalchemy import select

from kjoretoyregister.audit.models import AuditEntry
from kjoretoyregister.portal.models import PortalSessionRow
from kjoretoyregister.store.testing import postgres_schema
from portal.conftest import browser_session, csrf_of, login, login_until_callback
from portal.helpers import ADMINISTRATOR, EMPLOYEE, PortalStack, Template, start_portal_stack


def _at(s: PortalStack, root: str) -> PortalStack:
    return dataclasses.replace(s, root=root, portal_url=root + "/portal/")


async def _cookie(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == "kjr_portal")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None = the stack's SQLite file; else an empty PostgreSQL schema (the stack seeds it)."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), migrate=False) as url:
        yield url


@asynccontextmanager
async def _two_instances(
    tmp_path: Path,
    register_path: Path,
    template: Template,
    database_url: str | None,
    **portal: Any,
) -> AsyncIterator[tuple[PortalStack, PortalStack, PortalStack]]:
    async with start_portal_stack(
        tmp_path / "stack",
        register_path=register_path,
        template=template,
        portal=portal,
        instances=2,
        database_url=database_url,
    ) as s:
        root_a, root_b = s.extra["roots"]
        yield s, _at(s, root_a), _at(s, root_b)


async def _login_on_a_lookup_on_b_logout_on_a(
    s: PortalStack, a: PortalStack, b: PortalStack
) -> tuple[str, str]:
    """The whole walk; returns the logged-in cookie and the one the logout page started."""
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
    return sid, after


async def _assert_redis_keys_are_hashes(
    redis_url: str, prefix: str, s: PortalStack, *cookies: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in client.scan_iter(f"{prefix}:portal:session:*")]
        assert keys and all(c not in k for k in keys for c in cookies)
        for key in keys:
            assert 0 < await client.pttl(key) <= s.settings.idle_timeout_s * 1000
            value = await client.get(key) or b""
            assert all(c.encode() not in value for c in cookies)
    finally:
        await client.aclose()


async def test_session_moves_between_instances_and_logout_ends_it_everywhere(
    tmp_path: Path,
    register_path: Path,
    portal_template: Template,
    redis_url: str,
    database: str | None,
) -> None:
    """Redis sessions, the database a SQLite file or PostgreSQL: nothing of it in the table."""
    prefix = "kjrtest-" + secrets.token_hex(6)
    async with _two_instances(
        tmp_path,
        register_path,
        portal_template,
        database,
        redis_url=redis_url,
        redis_prefix=prefix,
    ) as (s, a, b):
        sid, after = await _login_on_a_lookup_on_b_logout_on_a(s, a, b)
        with s.session_factory() as db:
            assert db.scalars(select(PortalSessionRow)).all() == []
    await _assert_redis_keys_are_hashes(redis_url, prefix, s, sid, after)


async def test_database_sessions_move_between_instances_without_redis(
    tmp_path: Path, register_path: Path, portal_template: Template, database: str | None
) -> None:
    """No Redis: the sessions are rows of the shared database, keyed by a hash of the cookie."""
    async with _two_instances(tmp_path, register_path, portal_template, database) as (s, a, b):
        assert s.settings.redis_url is None
        sid, after = await _login_on_a_lookup_on_b_logout_on_a(s, a, b)
        with s.session_factory() as db:
            rows = db.scalars(select(PortalSessionRow)).all()
    keys = {r.key for r in rows}
    assert hashlib.sha256(sid.encode()).hexdigest() not in keys  # revoked on logout
    assert hashlib.sha256(after.encode()).hexdigest() in keys
    assert all(c not in r.key and c not in r.data for r in rows for c in (sid, after))


async def _start_login(http: aiohttp.ClientSession, at: PortalStack) -> aiohttp.ClientResponse:
    async with http.get(at.portal_url + "logg-inn", allow_redirects=False) as resp:
        await resp.read()
        return resp


def _assert_refused(resp: aiohttp.ClientResponse, page: str) -> None:
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert "For mange innloggingsforsøk" in page
    assert "Location" not in resp.headers
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


async def test_login_limit_per_address_counts_attempts_on_both_instances(
    tmp_path: Path, register_path: Path, portal_template: Template, redis_url: str
) -> None:
    prefix = "kjrtest-" + secrets.token_hex(6)
    async with (
        _two_instances(
            tmp_path,
            register_path,
            portal_template,
            None,
            redis_url=redis_url,
            redis_prefix=prefix,
            login_limit_per_ip=4,
        ) as (_, a, b),
        browser_session() as http,
    ):
        for at in (a, b, a, b):  # 4 attempts split over A and B: all processed
            assert (await _start_login(http, at)).status == 302
        for at in (a, b):  # the next one is refused on either instance
            async with http.get(at.portal_url + "logg-inn", allow_redirects=False) as resp:
                _assert_refused(resp, await resp.text())
        async with http.get(  # the return from ID-porten counts too; no code is redeemed
            b.portal_url + "callback", params={"code": "x", "state": "y"}
        ) as resp:
            _assert_refused(resp, await resp.text())
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in client.scan_iter(f"{prefix}:portal:login*")]
    finally:
        await client.aclose()
    assert keys and all("127.0.0.1" not in k for k in keys)


async def test_login_limit_per_person_counts_logins_on_both_instances(
    tmp_path: Path, register_path: Path, portal_template: Template, redis_url: str
) -> None:
    prefix = "kjrtest-" + secrets.token_hex(6)
    async with _two_instances(
        tmp_path,
        register_path,
        portal_template,
        None,
        redis_url=redis_url,
        redis_prefix=prefix,
        login_limit_per_person=2,
    ) as (s, a, b):
        for at in (a, b):
            async with browser_session() as http:
                assert f"Velkommen, {EMPLOYEE.name}" in await login(
                    http, at, EMPLOYEE.pid, EMPLOYEE.name
                )
        async with browser_session() as http:  # another person is not affected
            await login(http, b, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        for at in (a, b):  # the third login of the same person: ID-porten said yes, we say 429
            async with browser_session() as http:
                resp, page = await login_until_callback(http, at, EMPLOYEE.pid, EMPLOYEE.name)
                _assert_refused(resp, page)
                async with http.get(at.portal_url) as front:
                    assert "Logg inn med ID-porten" in await front.text()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in client.scan_iter(f"{prefix}:portal:login*")]
    finally:
        await client.aclose()
    pseudonym = s.pseudonymizer.pseudonym("fodselsnummer", EMPLOYEE.pid)
    assert keys and all(EMPLOYEE.pid not in k and pseudonym not in k for k in keys)


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

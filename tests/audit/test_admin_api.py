"""The org administrator's audit API: bearer auth, limited to its own organisation, audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, text

from kjoretoyregister.audit.admin_api import (
    AUDIT_ADMIN_PREFIX,
    AdminPrincipal,
    admin_audit_app_from_settings,
    create_admin_audit_app,
    tokens_from_settings,
)
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.config import load_settings

from .conftest import ORG_A, ORG_B, PLATE, EventFactory

TOKEN_A = "org-a-admin-token-0123456789"
TOKEN_ROOT = "platform-admin-token-0123456789"


async def _client(engine: Engine, pz: Pseudonymizer) -> TestClient[web.Request, web.Application]:
    tokens = {
        TOKEN_A: AdminPrincipal("kari", frozenset({ORG_A})),
        TOKEN_ROOT: AdminPrincipal("root", None),
    }
    outer = web.Application()
    outer.add_subapp("/admin/audit", create_admin_audit_app(engine, pz, tokens))
    client = TestClient(TestServer(outer))
    await client.start_server()
    return client


async def _fill(engine: Engine, pz: Pseudonymizer, event: EventFactory, n: int = 3) -> None:
    async with DurableAuditSink(engine, pz) as sink:
        for i in range(n):
            await sink.record(event(org=ORG_A, integrasjon=f"int-{i}"))
        await sink.record(event(org=ORG_B))


async def test_org_admin_sees_only_its_org_and_reads_are_audited(
    engine: Engine, pz: Pseudonymizer, event: EventFactory
) -> None:
    await _fill(engine, pz, event)
    client = await _client(engine, pz)
    try:
        auth = {"Authorization": f"Bearer {TOKEN_A}"}
        resp = await client.get(f"/admin/audit/{ORG_A}/entries?limit=2", headers=auth)
        assert resp.status == 200
        body = await resp.json()
        assert [e["integrasjon_id"] for e in body["entries"]] == ["int-0", "int-1"]
        assert body["entries"][0]["items"][0]["identifier"] == PLATE
        nxt = body["next"]["after"]
        resp = await client.get(f"/admin/audit/{ORG_A}/entries?after={nxt}", headers=auth)
        assert [e["integrasjon_id"] for e in (await resp.json())["entries"]] == ["int-2"]
        resp = await client.get(f"/admin/audit/{ORG_A}/entries?identifier=cu11297", headers=auth)
        assert len((await resp.json())["entries"]) == 3

        resp = await client.get(f"/admin/audit/{ORG_B}/entries", headers=auth)
        assert resp.status == 403
        assert (await resp.json())["status"] == 403
        assert (await client.get(f"/admin/audit/{ORG_A}/entries")).status == 401
        bad = {"Authorization": "Bearer wrong-token-wrong-token"}
        assert (await client.get(f"/admin/audit/{ORG_A}/entries", headers=bad)).status == 401
        root = {"Authorization": f"Bearer {TOKEN_ROOT}"}
        assert (await client.get(f"/admin/audit/{ORG_B}/entries", headers=root)).status == 200

        resp = await client.get(f"/admin/audit/{ORG_A}/export.jsonl", headers=auth)
        assert resp.status == 200
        lines = [orjson.loads(x) for x in (await resp.read()).splitlines()]
        assert len(lines) == 3 and {x["fiks_org_id"] for x in lines} == {ORG_A}

        month = datetime.now(UTC).strftime("%Y-%m")
        resp = await client.get(f"/admin/audit/{ORG_A}/usage?month={month}", headers=auth)
        assert (await resp.json())["requests"] == 3
    finally:
        await client.close()
    with engine.connect() as conn:
        actors = [
            tuple(r)
            for r in conn.execute(
                text("SELECT actor, fiks_org_id FROM audit_entry WHERE kind='access' ORDER BY seq")
            )
        ]
    # Refused requests (401/403) read nothing and so log nothing here; the six reads do.
    assert actors[0] == ("admin-api:kari", ORG_A) and len(actors) == 6
    assert ("admin-api:root", ORG_B) in actors


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "since=yesterday", "after=-1", "limit=5000"],
)
async def test_bad_input_is_400(engine: Engine, pz: Pseudonymizer, query: str) -> None:
    client = await _client(engine, pz)
    try:
        auth = {"Authorization": f"Bearer {TOKEN_A}"}
        resp = await client.get(f"/admin/audit/{ORG_A}/entries?{query}", headers=auth)
        assert resp.status == 400
        resp = await client.get(f"/admin/audit/{ORG_A}/usage?month=2026-13", headers=auth)
        assert resp.status == 400
    finally:
        await client.close()


async def test_unrecordable_read_is_503(engine: Engine, pz: Pseudonymizer) -> None:
    """If the read cannot be logged, nothing is read (fail closed, as for lookups)."""
    client = await _client(engine, pz)
    try:
        await asyncio.to_thread(_break, engine)
        auth = {"Authorization": f"Bearer {TOKEN_A}"}
        assert (await client.get(f"/admin/audit/{ORG_A}/entries", headers=auth)).status == 503
        assert (await client.get(f"/admin/audit/{ORG_A}/export.jsonl", headers=auth)).status == 503
    finally:
        await client.close()


def _break(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_chain_head RENAME TO audit_chain_head_gone"))


def test_tokens_from_settings() -> None:
    settings = load_settings(
        konfig={"admin_tokens": ["alice:" + TOKEN_ROOT]},
        audit={"org_admin_tokens": [f"{ORG_A}:kari:{TOKEN_A}"]},
    )
    tokens = tokens_from_settings(settings)
    assert tokens[TOKEN_ROOT] == AdminPrincipal("alice", None)
    assert tokens[TOKEN_A] == AdminPrincipal("kari", frozenset({ORG_A}))


async def test_from_settings_mounts_on_the_configured_store(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str
) -> None:
    """What the gateway mounts: the database and secret from settings, org tokens from audit."""
    await _fill(engine, pz, event, 1)
    settings = load_settings(audit={"org_admin_tokens": [f"{ORG_A}:kari:{TOKEN_A}"]})
    outer = web.Application()
    outer.add_subapp(AUDIT_ADMIN_PREFIX, admin_audit_app_from_settings(settings))
    async with TestClient(TestServer(outer)) as client:
        resp = await client.get(
            f"{AUDIT_ADMIN_PREFIX}/{ORG_A}/entries", headers={"Authorization": f"Bearer {TOKEN_A}"}
        )
        assert resp.status == 200
        assert len((await resp.json())["entries"]) == 1

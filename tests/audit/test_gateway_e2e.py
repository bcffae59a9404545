"""The real gateway with the durable sink: every 200 is in the audit log before it is sent,
a store that cannot commit gives 503 without vehicle data, and the owner can find the lookup
through innsyn. Audit database on both backends (Konfigurasjon stays on the stack's SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, text

from kjoretoyregister.audit import query
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.verify import verify
from kjoretoyregister.audit.writer import DurableAuditSink
from stack import CaptureUpstream, ensure_register, start_stack


@pytest.fixture(scope="module")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_register(tmp_path_factory.mktemp("register") / "register.sqlite")


@pytest.fixture
async def sink(engine: Engine, pz: Pseudonymizer) -> AsyncIterator[DurableAuditSink]:
    async with DurableAuditSink(engine, pz) as s:
        yield s


def _owner_fnr(body: bytes) -> str | None:
    for element in orjson.loads(body):
        eier = (element.get("kjoretoy") or {}).get("eierskap", {}).get("eier") or {}
        fnr = (eier.get("person") or {}).get("fodselsnummer")
        if fnr:
            return str(fnr)
    return None


def _break(engine: Engine, broken: bool) -> None:
    old, new = ("audit_chain_head", "audit_chain_head_x")[:: 1 if broken else -1]
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_answers_are_audited_first_and_fail_closed(
    tmp_path: Path,
    register_path: Path,
    engine: Engine,
    pz: Pseudonymizer,
    sink: DurableAuditSink,
) -> None:
    async with start_stack(tmp_path / "s", register_path=register_path, audit_sink=sink) as st:
        assert st.register is not None
        plates = st.register.sample_kjennemerker(20, seed=5)
        token = await st.token()
        headers = st.headers(
            token, **{"X-Fiks-Formaal": "parkeringsgebyr", "X-Fiks-Saksreferanse": "2026/77"}
        )
        body = orjson.dumps([{"kjennemerke": p} for p in plates])
        async with st.http.post(st.api("bulk/kjennemerke"), data=body, headers=headers) as resp:
            assert resp.status == 200
            answer = await resp.read()
        entries = list(query.search(engine, pz, query.Filters(kind="lookup"), actor="t"))
        assert len(entries) == 1
        (entry,) = entries
        assert entry["fiks_org_id"] == st.fiks_org_id and entry["http_status"] == 200
        assert entry["purpose"] == "parkeringsgebyr" and entry["case_reference"] == "2026/77"
        assert [i["identifier"] for i in entry["items"]] == plates

        owner = _owner_fnr(answer)
        if owner is not None:  # the sample's first owned vehicle: innsyn finds the lookup
            rows = query.innsyn(engine, pz, "fodselsnummer", owner, actor="t")
            assert {(r["fiks_org_id"], r["role"]) for r in rows} == {(st.fiks_org_id, "returned")}

        await _to_thread(_break, engine, True)
        async with st.http.post(st.api("bulk/kjennemerke"), data=body, headers=headers) as resp:
            assert resp.status == 503
            refused = await resp.read()
        assert b'"kjoretoy":' not in refused and plates[0].encode() not in refused
        await _to_thread(_break, engine, False)
        async with st.http.post(st.api("bulk/kjennemerke"), data=body, headers=headers) as resp:
            assert resp.status == 200
    assert verify(engine).ok
    with engine.connect() as conn:
        statuses = conn.execute(
            text("SELECT http_status FROM audit_entry WHERE kind = 'lookup' ORDER BY seq")
        ).all()
    assert [s[0] for s in statuses] == [200, 200]  # the refused request left no record


async def test_malformed_upstream_body_is_audited_as_error(
    tmp_path: Path, engine: Engine, pz: Pseudonymizer, sink: DurableAuditSink
) -> None:
    upstream = CaptureUpstream(body=b"<html>not json</html>")
    async with start_stack(tmp_path / "s", upstream=upstream.app(), audit_sink=sink) as st:
        token = await st.token()
        body = orjson.dumps([{"kjennemerke": "CU11297"}, {"kjennemerke": "AB12345"}])
        async with st.http.post(
            st.api("bulk/kjennemerke"), data=body, headers=st.headers(token)
        ) as resp:
            await resp.read()
    (entry,) = query.search(engine, pz, query.Filters(kind="lookup"), actor="t")
    assert [(i["identifier"], i["outcome"]) for i in entry["items"]] == [
        ("CU11297", "error"),
        ("AB12345", "error"),
    ]


async def _to_thread(fn: object, *args: object) -> None:
    import asyncio

    await asyncio.to_thread(fn, *args)  # type: ignore[arg-type]


async def test_vehicles_returned_by_searches_are_found_by_innsyn(
    tmp_path: Path,
    register_path: Path,
    engine: Engine,
    pz: Pseudonymizer,
    sink: DurableAuditSink,
) -> None:
    """An owner search and a VIN lookup never name the plate, yet innsyn by plate finds both:
    the returned vehicles' plates, VINs and kuids are recorded as pseudonyms (role returned)."""
    plate, vin = "CU11297", "SISDINKY45727043"
    async with start_stack(tmp_path / "s", register_path=register_path, audit_sink=sink) as st:
        token = await st.token()
        for path in (
            "sok/organisasjonsnummer?organisasjonsnummer=986130861",
            "sok/eiernavn?navn=M%C3%98LLER%20BIL%20AS",
            f"bulk/understellsnummer/{vin}",
        ):
            async with st.http.get(st.api(path), headers=st.headers(token)) as resp:
                assert resp.status == 200, path
                answer = await resp.read()
            assert b"CU 11297" in answer, path  # SVV spells the plate with a space
        # A lookup of another plate must not show up under CU11297.
        body = orjson.dumps([{"kjennemerke": "CU11298"}])
        async with st.http.post(
            st.api("bulk/kjennemerke"), data=body, headers=st.headers(token)
        ) as resp:
            assert resp.status == 200
    rows = query.innsyn(engine, pz, "kjennemerke", plate, actor="t")
    endpoints = sorted(r["endpoint"] for r in rows)
    assert len(endpoints) == 3, endpoints
    assert sum("/sok/" in e for e in endpoints) == 2
    assert sum("/bulk/understellsnummer" in e for e in endpoints) == 1
    assert {r["role"] for r in rows} == {"returned"}
    # The VIN and kuid of the returned vehicle are recorded too (kuid was never asked for).
    kuid = pz.pseudonym("kuid", "3378150582")
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM audit_subject WHERE pseudonym = :p AND role = 'r'"),
            {"p": kuid},
        ).scalar_one()
    assert n == 3
    with engine.connect() as conn:
        clear = conn.execute(text("SELECT pseudonym FROM audit_subject")).scalars().all()
    assert plate not in clear and vin not in clear
    assert verify(engine).ok


async def test_metrics_show_the_pseudonym_index_catching_up(
    tmp_path: Path, register_path: Path, engine: Engine, pz: Pseudonymizer
) -> None:
    # A long interval: only the wake-up after a bulk commit can bring the lag back to 0.
    async with (
        DurableAuditSink(engine, pz, subject_index_interval_s=60) as sink,
        start_stack(tmp_path / "s", register_path=register_path, audit_sink=sink) as st,
    ):
        assert st.register is not None
        plates = st.register.sample_kjennemerker(300, seed=7)
        token = await st.token()
        body = orjson.dumps([{"kjennemerke": p} for p in plates])
        async with st.http.post(
            st.api("bulk/kjennemerke"), data=body, headers=st.headers(token)
        ) as resp:
            assert resp.status == 200
        assert sink.subject_indexer is not None
        for _ in range(200):  # up to 10 s
            if sink.subject_indexer.steps and not sink.subject_indexer.lag:
                break
            await asyncio.sleep(0.05)
        async with st.http.get(st.gateway_root + "/metrics") as resp:
            text_ = await resp.text()
    assert "kjr_audit_subject_index_lag_entries 0.0" in text_
    assert "kjr_audit_subject_index_failures_total 0.0" in text_
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_subject_index")).scalar_one() > 0

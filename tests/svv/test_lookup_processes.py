"""Big bulk requests split over lookup processes: the same bytes as in one process, in request
order; a worker that dies costs one 503 and the pool comes back; the choice of how many."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from kjoretoyregister import httpserver
from kjoretoyregister.config import SvvSettings
from kjoretoyregister.httpserver import ChunkedBody
from kjoretoyregister.svv import appstate, lookup_processes
from kjoretoyregister.svv.appstate import PROCESSES
from kjoretoyregister.svv.bulkrender import render_bulk, render_bulk_keeping
from kjoretoyregister.svv.lookup_processes import (
    MIN_ITEMS,
    LookupProcesses,
    auto_processes,
    splice,
)
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.server import create_app

pytestmark = pytest.mark.timeout(120)


def test_splice_keeps_order_and_skips_empty_parts() -> None:
    parts = [orjson.dumps([1, {"a": [2]}]), b"[]", orjson.dumps(["x"])]
    assert orjson.loads(splice(parts)) == [1, {"a": [2]}, "x"]
    assert splice([b"[]", b"[]"]) == b"[]"
    assert splice([b"[]", b"[1]", b"[]", b"[2,3]"]) == b"[1,2,3]"  # no comma for an empty part


def test_auto_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup_processes.os, "cpu_count", lambda: 2)
    assert auto_processes(None, 6_000_000) == 2
    assert auto_processes(None, 3_000) == 0  # small: start-up would dominate
    assert auto_processes(0, 6_000_000) == 0  # the setting wins, both ways
    assert auto_processes(3, 3_000) == 3
    monkeypatch.setattr(lookup_processes.os, "cpu_count", lambda: 1)
    assert auto_processes(None, 6_000_000) == 0  # one core: nothing to share


def _items(register: Any) -> list[dict[str, str]]:
    """More than MIN_ITEMS items with repeats, misses, a withheld vehicle and past dtgs."""
    plates = register.sample_kjennemerker(MIN_ITEMS + 60, seed=3)
    items: list[dict[str, str]] = [{"kjennemerke": p} for p in plates]
    items[5:5] = [{"kjennemerke": "ZZ99999"}, {"kjennemerke": "CU11300"}]
    items.append({"kjennemerke": plates[0]})  # a repeat is answered again
    items.append({"kjennemerke": "CU11297", "dtg": "2023-01-01T12:00:00+01:00"})
    items.append({"kjennemerke": "CU11297", "dtg": "2020-01-01T12:00:00+01:00"})  # before
    return items


async def test_same_bytes_as_one_process(svv_client_factory, svv_api, svv_register) -> None:
    single = await svv_client_factory(lookup_processes=0)
    split = await svv_client_factory(lookup_processes=2)
    processes = split.server.app[PROCESSES]
    assert len(processes.pids) == 2 and os.getpid() not in processes.pids

    items = _items(svv_register)
    a = await single.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    b = await split.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    assert a.status == b.status == 200
    assert await b.read() == await a.read()
    assert len(orjson.loads(await b.read())) == len(items)
    assert processes.requests == 1

    kuids = [{"kuid": str(k)} for k in range(1, MIN_ITEMS + 50)] + [{"kuid": "x"}]
    a = await single.post(svv_api.BULK_KUID, json=kuids, headers=svv_api.OPPSLAG)
    b = await split.post(svv_api.BULK_KUID, json=kuids, headers=svv_api.OPPSLAG)
    assert await b.read() == await a.read()
    assert processes.requests == 2

    # A small request stays in the server process.
    small = await split.post(svv_api.BULK_KJENNEMERKE, json=items[:3], headers=svv_api.OPPSLAG)
    assert small.status == 200 and processes.requests == 2


async def test_a_worker_that_died_idle_is_started_again(
    svv_client_factory, svv_api, svv_register
) -> None:
    client = await svv_client_factory(lookup_processes=2)
    processes = client.server.app[PROCESSES]
    dead = processes.pids[0]
    os.kill(dead, signal.SIGKILL)
    items = _items(svv_register)
    answer = await client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    assert answer.status == 200
    assert len(await answer.json()) == len(items)
    assert dead not in processes.pids and all(processes.pids)


async def test_a_worker_dying_mid_request_is_replaced_and_the_slice_retried(
    svv_client_factory, svv_api, svv_register
) -> None:
    client = await svv_client_factory(lookup_processes=2)
    processes = client.server.app[PROCESSES]
    items = _items(svv_register)
    single = await svv_client_factory(lookup_processes=0)
    expected = await _answer(single, svv_api, items)
    victim = processes.pids[1]
    os.kill(victim, signal.SIGSTOP)  # it takes its slice, then never answers
    try:
        pending = asyncio.ensure_future(
            client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
        )
        await asyncio.sleep(0.5)
        assert not pending.done()
    finally:
        os.kill(victim, signal.SIGKILL)
    answer = await pending
    assert answer.status == 200
    assert await answer.read() == expected
    assert victim not in processes.pids


async def _answer(client: Any, svv_api: Any, items: Any) -> bytes:
    response = await client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    assert response.status == 200
    body: bytes = await response.read()
    return body


async def test_a_worker_that_cannot_come_back_is_a_503_until_it_can(
    svv_api, svv_register_path, tmp_path
) -> None:
    copy = tmp_path / "register.sqlite"
    shutil.copyfile(svv_register_path, copy)
    register = Register(copy)
    settings = SvvSettings(users=list(svv_api.USERS), lookup_processes=2)
    client = TestClient(TestServer(create_app(register, settings)))
    await client.start_server()
    try:
        processes = client.server.app[PROCESSES]
        items = _items(register)
        victim = processes.pids[0]
        os.kill(victim, signal.SIGSTOP)
        try:
            pending = asyncio.ensure_future(
                client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
            )
            await asyncio.sleep(0.5)
            copy.rename(tmp_path / "away.sqlite")  # open files keep working; a new one fails
        finally:
            os.kill(victim, signal.SIGKILL)
        failed = await pending
        assert failed.status == 503
        body = await failed.json()
        assert body["status"] == 503 and "prøv igjen" in body["feilmelding"]

        (tmp_path / "away.sqlite").rename(copy)
        again = await client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
        assert again.status == 200
        assert len(await again.json()) == len(items)
    finally:
        await client.close()
        register.close()


async def test_a_cancelled_request_does_not_mix_up_the_next(svv_register_path) -> None:
    """The cancelled request's thread still owns the worker's pipe and buffer until its answer
    arrives; the next request waits for that rather than reading the other's answer."""
    register = Register(svv_register_path)
    processes = LookupProcesses(svv_register_path, 1)
    try:
        await processes.start()
        plates = register.sample_kjennemerker(2 * MIN_ITEMS, seed=12)
        first = [(p, None) for p in plates[:MIN_ITEMS]]
        second = [(p, None) for p in plates[MIN_ITEMS:]]
        expected = render_bulk(register, "kjennemerke", second)
        for _ in range(5):
            task = asyncio.ensure_future(processes.render("kjennemerke", first))
            await asyncio.sleep(0.001)
            task.cancel()
            assert await processes.render("kjennemerke", second) == expected
    finally:
        processes.close()
        register.close()


def test_render_bulk_keeping_renders_what_render_bulk_does(svv_register) -> None:
    items = [(p, None) for p in svv_register.sample_kjennemerker(50, seed=4)] + [("ZZ99999", None)]
    body, results = render_bulk_keeping(svv_register, "kjennemerke", items)
    assert body == render_bulk(svv_register, "kjennemerke", items)
    assert len(results) == len(items) and results[-1] == []


async def test_big_answers_go_out_in_pieces_with_their_length(
    svv_client_factory, svv_api, svv_register, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above CHUNK_BYTES the answer is written in views: the same bytes, a Content-Length,
    no chunked transfer coding (what a client of SVV gets from a plain body)."""
    client = await svv_client_factory(lookup_processes=0)
    items = _items(svv_register)
    whole = await client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    expected = await whole.read()
    writes: list[int] = []
    original = ChunkedBody.write_with_length

    async def counting(self: ChunkedBody, writer: Any, length: int | None) -> None:
        real_write = writer.write

        async def write(chunk: Any, **kwargs: Any) -> None:
            writes.append(len(chunk))
            await real_write(chunk, **kwargs)

        writer.write = write
        try:
            await original(self, writer, length)
        finally:
            del writer.write

    monkeypatch.setattr(ChunkedBody, "write_with_length", counting)
    monkeypatch.setattr(appstate, "CHUNK_BYTES", 4096)  # when to use it
    monkeypatch.setattr(httpserver, "CHUNK_BYTES", 4096)  # the pieces' size
    pieces = await client.post(svv_api.BULK_KJENNEMERKE, json=items, headers=svv_api.OPPSLAG)
    assert pieces.status == 200
    assert pieces.headers["Content-Length"] == str(len(expected))
    assert "Transfer-Encoding" not in pieces.headers
    assert await pieces.read() == expected
    assert len(writes) == -(-len(expected) // 4096) and max(writes) == 4096
    assert not isinstance(appstate.json_response(b"[]").body, ChunkedBody)

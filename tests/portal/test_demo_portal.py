"""``kjoretoyregister demo`` serves the portal: URL in the profile, seeded persons, a lookup."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from kjoretoyregister.config import load_settings
from kjoretoyregister.demo import run
from kjoretoyregister.portal.demo_seed import DEMO_ADMIN, DEMO_EMPLOYEE
from portal.conftest import browser_session, csrf_of, login

pytestmark = pytest.mark.slow


async def test_demo_serves_the_portal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(data_dir=tmp_path / "demo")
    stop = asyncio.Event()
    task = asyncio.create_task(
        run(settings, profile_path=None, vehicles=60, port_base=0, stop=stop)
    )
    profile_path = tmp_path / "demo" / "profile.json"
    try:
        for _ in range(600):
            if profile_path.exists() or task.done():
                break
            await asyncio.sleep(0.1)
        assert not task.done(), task.exception()
        profile = orjson.loads(profile_path.read_bytes())
        portal_url = profile["portal_url"]
        assert portal_url.endswith("/portal/")
        where = SimpleNamespace(portal_url=portal_url)
        async with browser_session() as http:
            page = await login(http, where, DEMO_EMPLOYEE.pid, DEMO_EMPLOYEE.name)  # type: ignore[arg-type]
            assert "Demo kommune" in page
            async with http.get(portal_url + "oppslag") as resp:
                token = csrf_of(await resp.text())
            async with http.post(
                portal_url + "oppslag",
                data={
                    "csrf_token": token,
                    "kind": "kjennemerke",
                    "value": "CU11297",
                    "dtg": "",
                    "formaal": "Demo",
                    "saksreferanse": "2026/1",
                },
            ) as resp:
                assert resp.status == 200
                assert "Kjennemerker" in await resp.text()
        async with browser_session() as http:
            page = await login(http, where, DEMO_ADMIN.pid, DEMO_ADMIN.name)  # type: ignore[arg-type]
            assert "Administrasjon" in page
        out = capsys.readouterr().out
        assert portal_url in out and DEMO_EMPLOYEE.pid in out and DEMO_ADMIN.pid in out
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)

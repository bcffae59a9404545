"""``kjoretoyregister portal serve``'s application, built from settings alone."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from kjoretoyregister.config import load_settings
from kjoretoyregister.portal.cli import app_from_settings


async def test_app_from_settings_serves_the_login_page(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "kjr", portal={"cookie_secure": False})
    async with TestClient(TestServer(app_from_settings(settings))) as client:
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/portal/"
        resp = await client.get("/portal/")
        assert resp.status == 200
        assert "Logg inn med ID-porten" in await resp.text()
        assert resp.headers["X-Frame-Options"] == "DENY"
        resp = await client.get("/portal/static/portal.css")
        assert resp.status == 200 and "Cache-Control" not in resp.headers

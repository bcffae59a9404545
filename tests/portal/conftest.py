"""Fixtures for the portal's tests: the real stack with the portal mounted (see helpers.py)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from portal.helpers import PortalStack, Template, make_template, start_portal_stack
from stack import ensure_register

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small generated register for the whole session (generation is the slow part)."""
    return ensure_register(tmp_path_factory.mktemp("register") / "register.sqlite")


@pytest.fixture(scope="session")
def portal_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Seeded database and Maskinporten state, copied by each stack."""
    return make_template(tmp_path_factory.mktemp("portal-template"))


@pytest.fixture
async def portal_stack(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> AsyncIterator[PortalStack]:
    """Simulator + Maskinporten/ID-porten + Konfigurasjon + gateway with the portal."""
    async with start_portal_stack(
        tmp_path / "stack", register_path=register_path, template=portal_template
    ) as s:
        yield s


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium: skipped locally when missing, a failure in CI."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


def browser_session() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's default jar ignores IP hosts)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = CSRF_RE.search(html)
    assert found, "no csrf_token in page"
    return found.group(1)


async def login(http: aiohttp.ClientSession, s: PortalStack, pid: str, name: str) -> str:
    """Log in through the real OIDC flow (as the picker page would); return the front page."""
    async with http.get(s.portal_url + "logg-inn", allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        authorize = resp.headers["Location"]
    async with http.get(authorize) as resp:
        assert resp.status == 200
    params = dict(parse_qsl(urlsplit(authorize).query))
    form = {
        k: params.get(k, "")
        for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")
    }
    form.update(pid=pid, name=name)
    target = authorize.split("?", 1)[0]
    async with http.post(target, data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
        callback = resp.headers["Location"]
    async with http.get(callback) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text()


async def login_until_callback(
    http: aiohttp.ClientSession, s: PortalStack, pid: str, name: str
) -> tuple[aiohttp.ClientResponse, str]:
    """The login walk of ``conftest.login``, returning the callback's answer as it is."""
    async with http.get(s.portal_url + "logg-inn", allow_redirects=False) as resp:
        authorize = resp.headers["Location"]
    async with http.get(authorize) as resp:
        assert resp.status == 200
    params = dict(parse_qsl(urlsplit(authorize).query))
    form = {
        k: params.get(k, "")
        for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")
    }
    form.update(pid=pid, name=name)
    async with http.post(authorize.split("?", 1)[0], data=form, allow_redirects=False) as resp:
        callback = resp.headers["Location"]
    async with http.get(callback, allow_redirects=False) as resp:
        return resp, await resp.text()

"""The login rate limit on one instance without Redis (in-process counters), and whose address
counts: the peer's, or behind a trusted proxy the client's from ``X-Forwarded-For``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from kjoretoyregister.config import PortalSettings
from kjoretoyregister.logs import configure_logging
from portal.conftest import browser_session, login, login_until_callback
from portal.helpers import EMPLOYEE, Template, start_portal_stack


async def _statuses(
    tmp_path: Path, register_path: Path, template: Template, forwarded: list[str], **portal: object
) -> list[int]:
    async with (
        start_portal_stack(
            tmp_path / "stack", register_path=register_path, template=template, portal=portal
        ) as s,
        browser_session() as http,
    ):
        out = []
        for value in forwarded:
            headers = {"X-Forwarded-For": value} if value else {}
            async with http.get(
                s.portal_url + "logg-inn", headers=headers, allow_redirects=False
            ) as resp:
                out.append(resp.status)
                if resp.status == 429:
                    assert "For mange innloggingsforsøk" in await resp.text()
                    assert int(resp.headers["Retry-After"]) >= 1
        return out


async def test_in_process_limit_and_a_forged_forwarded_for_does_not_help(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> None:
    """No trusted proxy: X-Forwarded-For is the client's own claim and is ignored."""
    statuses = await _statuses(
        tmp_path,
        register_path,
        portal_template,
        ["", "10.0.0.1", "10.0.0.2", "10.0.0.3"],
        login_limit_per_ip=2,
    )
    assert statuses == [302, 302, 429, 429]


async def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> None:
    statuses = await _statuses(
        tmp_path,
        register_path,
        portal_template,
        [
            "10.0.0.1",
            "203.0.113.9, 10.0.0.1",  # the client's own left-hand claim is not believed
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.2, 127.0.0.1",  # a chain of trusted proxies: the last untrusted hop
            "not-an-address",  # garbage from the proxy: the peer (the proxy) counts
        ],
        login_limit_per_ip=2,
        trusted_proxies=["127.0.0.1"],
    )
    assert statuses == [302, 302, 429, 302, 302, 302]


async def test_limits_off(tmp_path: Path, register_path: Path, portal_template: Template) -> None:
    statuses = await _statuses(
        tmp_path, register_path, portal_template, [""] * 5, login_limit_per_ip=0
    )
    assert statuses == [302] * 5


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValidationError):
        PortalSettings.model_validate({"trusted_proxies": ["proxy.example"]})


async def test_person_limit_logs_no_identity(
    tmp_path: Path,
    register_path: Path,
    portal_template: Template,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused logins are logged by scope only: no fødselsnummer, name, pseudonym or address."""
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    async with start_portal_stack(
        tmp_path / "stack",
        register_path=register_path,
        template=portal_template,
        portal={"login_limit_per_person": 1},
    ) as s:
        async with browser_session() as http:
            await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with browser_session() as http:
            resp, page = await login_until_callback(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        assert resp.status == 429 and "For mange innloggingsforsøk" in page
        pseudonym = s.pseudonymizer.pseudonym("fodselsnummer", EMPLOYEE.pid)
    logs = capsys.readouterr().err + caplog.text
    assert "portal_login_rate_limited" in logs
    leaked = [v for v in (EMPLOYEE.pid, EMPLOYEE.name, pseudonym, "127.0.0.1") if v in logs]
    assert leaked == []

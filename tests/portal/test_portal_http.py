"""The portal over real sockets, no browser: login, lookup + audit, and the security rules."""

from __future__ import annotations

import re
import secrets

import aiohttp
import orjson
import pytest
from sqlalchemy import select

from kjoretoyregister.audit.models import AuditEntry
from kjoretoyregister.portal.lookup import PORTAL_INTEGRATION, person_client_id
from kjoretoyregister.portal.roles import person_key
from portal.conftest import browser_session, csrf_of, login
from portal.helpers import ADMINISTRATOR, EMPLOYEE, OUTSIDER, PortalStack


async def test_login_shows_roles_and_menu(portal_stack: PortalStack) -> None:
    async with browser_session() as http:
        page = await login(http, portal_stack, EMPLOYEE.pid, EMPLOYEE.name)
    assert "Velkommen, Kari Saksbehandler" in page
    assert "Oppslag" in page and "Eiersøk" in page
    assert "Integrasjoner" not in page  # no admin menu for an employee


async def test_lookup_is_forwarded_and_audited_with_the_person(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "oppslag") as resp:
            form = await resp.text()
        data = {
            "csrf_token": csrf_of(form),
            "kind": "kjennemerke",
            "value": "CU 11297",
            "dtg": "",
            "formaal": "Parkeringsgebyr",
            "saksreferanse": "2026/42",
        }
        async with http.post(s.portal_url + "oppslag", data=data) as resp:
            page = await resp.text()
            assert resp.status == 200, page
            assert "CU11297" not in str(resp.url)
            assert resp.headers["Cache-Control"] == "no-store"
    assert "Eier" in page and "Kjennemerker" in page
    with s.session_factory() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.kind == "lookup")).all()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.integrasjon_id == PORTAL_INTEGRATION
    assert entry.client_id == person_client_id(person_key(s.pseudonymizer, EMPLOYEE.pid))
    assert entry.fiks_org_id == s.fiks_org_id
    assert (entry.purpose, entry.case_reference) == ("Parkeringsgebyr", "2026/42")
    assert entry.http_status == 200 and entry.svv_status == 200
    assert EMPLOYEE.pid not in (entry.client_id or "")


async def test_purpose_and_case_reference_are_required(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        data = {
            "csrf_token": token,
            "kind": "kjennemerke",
            "value": "CU11297",
            "dtg": "",
            "formaal": "",
            "saksreferanse": "",
        }
        async with http.post(s.portal_url + "oppslag", data=data) as resp:
            assert resp.status == 400
            page = await resp.text()
    assert "Oppgi formålet" in page and "Oppgi saksreferanse" in page
    with s.session_factory() as db:
        assert db.scalars(select(AuditEntry).where(AuditEntry.kind == "lookup")).all() == []


async def test_post_without_csrf_token_is_refused(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        data = {"kind": "kjennemerke", "value": "CU11297", "formaal": "x", "saksreferanse": "y"}
        async with http.post(s.portal_url + "oppslag", data=data) as resp:
            assert resp.status == 403
        async with http.post(
            s.portal_url + "oppslag", data={**data, "csrf_token": "wrong"}
        ) as resp:
            assert resp.status == 403
        # A forged cross-site POST carries the cookie but not the token (and a foreign Origin).
        async with http.get(s.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            s.portal_url + "oppslag",
            data={**data, "csrf_token": token},
            headers={"Origin": "http://evil.example"},
        ) as resp:
            assert resp.status == 403
        async with http.post(s.portal_url + "logg-ut", data={}) as resp:
            assert resp.status == 403
    with s.session_factory() as db:
        assert db.scalars(select(AuditEntry).where(AuditEntry.kind == "lookup")).all() == []


async def test_security_headers_on_every_page(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        for path in ("", "oppslag", "finnes-ikke"):
            async with http.get(s.portal_url + path) as resp:
                h = resp.headers
                assert h["X-Frame-Options"] == "DENY"
                csp = h["Content-Security-Policy"]
                for directive in (
                    "default-src 'self'",
                    "frame-ancestors 'none'",
                    "form-action 'self'",
                    "script-src 'self'",
                ):
                    assert directive in csp
                assert "unsafe-inline" not in csp
                assert h["Referrer-Policy"] == "no-referrer"
                assert h["X-Content-Type-Options"] == "nosniff"
                assert h["Cache-Control"] == "no-store"
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        cookie = next(c for c in http.cookie_jar if c.key == "kjr_portal")
        assert cookie["httponly"]
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/portal/"


async def test_secure_cookie_when_configured(tmp_path, register_path, portal_template) -> None:  # type: ignore[no-untyped-def]
    from portal.helpers import start_portal_stack

    async with (
        start_portal_stack(
            tmp_path / "s",
            register_path=register_path,
            template=portal_template,
            portal={"cookie_secure": True},
        ) as s,
        browser_session() as http,
        http.get(s.portal_url + "logg-inn", allow_redirects=False) as resp,
    ):
        set_cookie = resp.headers.getall("Set-Cookie")
    assert any("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in set_cookie)


def _store_settings(request: pytest.FixtureRequest, kind: str) -> dict[str, str]:
    """Portal settings for sessions in the database (the default) or in Redis."""
    if kind == "database":
        return {}
    prefix = "kjrtest-" + secrets.token_hex(6)
    return {"redis_url": request.getfixturevalue("redis_url"), "redis_prefix": prefix}


@pytest.mark.parametrize("shared_store", ["database", "redis"])
async def test_session_idle_timeout_logs_out(
    tmp_path,
    register_path,
    portal_template,
    shared_store,
    request,  # type: ignore[no-untyped-def]
) -> None:
    from portal.helpers import ManualClock, start_portal_stack

    clock = ManualClock()
    store = _store_settings(request, shared_store)
    async with (
        start_portal_stack(
            tmp_path / "s",
            register_path=register_path,
            template=portal_template,
            portal={"idle_timeout_s": 60, "absolute_timeout_s": 3600, **store},
            clock=clock,
        ) as s,
        browser_session() as http,
    ):
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        clock.advance(59)
        async with http.get(s.portal_url + "oppslag", allow_redirects=False) as resp:
            assert resp.status == 200
        clock.advance(61)
        async with http.get(s.portal_url + "oppslag") as resp:
            page = await resp.text()
        assert "Logg inn med ID-porten" in page
        assert "økten var utløpt" in page


@pytest.mark.parametrize("shared_store", ["database", "redis"])
async def test_session_absolute_timeout(
    tmp_path,
    register_path,
    portal_template,
    shared_store,
    request,  # type: ignore[no-untyped-def]
) -> None:
    from portal.helpers import ManualClock, start_portal_stack

    clock = ManualClock()
    store = _store_settings(request, shared_store)
    async with (
        start_portal_stack(
            tmp_path / "s",
            register_path=register_path,
            template=portal_template,
            portal={"idle_timeout_s": 60, "absolute_timeout_s": 100, **store},
            clock=clock,
        ) as s,
        browser_session() as http,
    ):
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        statuses = []
        for _ in range(3):  # busy (every 40 s, under the idle limit), yet ended after 100 s
            clock.advance(40)
            async with http.get(s.portal_url + "oppslag", allow_redirects=False) as resp:
                statuses.append(resp.status)
    assert statuses == [200, 200, 303]


async def test_no_pii_in_urls_or_links(portal_stack: PortalStack) -> None:
    """Lookups and searches are POSTs; no page links or redirects carry an identifier."""
    s = portal_stack
    seen: list[str] = []
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        for path in ("oppslag", "eiersok"):
            async with http.get(s.portal_url + path) as resp:
                page = await resp.text()
            forms = re.findall(r'<form method="(\w+)"', page)
            assert forms and all(m == "post" for m in forms), forms
        token = csrf_of(page)
        async with http.post(
            s.portal_url + "eiersok",
            data={
                "csrf_token": token,
                "navn": "Kari Nordmann",
                "postnummer": "",
                "formaal": "Kontroll",
                "saksreferanse": "2026/1",
                "side": "1",
            },
        ) as resp:
            seen.append(str(resp.url))
            seen.extend(str(h.url) for h in resp.history)
            body = await resp.text()
        assert resp.status in (200, 204), body
        hrefs = re.findall(r'href="([^"]+)"', body)
    for u in seen + hrefs:
        assert "Kari" not in u and "Nordmann" not in u and EMPLOYEE.pid not in u
        assert "?" not in u or "/static/" in u


async def test_person_without_role_gets_no_lookup(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        page = await login(http, s, OUTSIDER.pid, OUTSIDER.name)
        assert "ingen roller" in page
        async with http.get(s.portal_url + "oppslag") as resp:
            assert resp.status == 403
        async with http.get(s.portal_url + "admin") as resp:
            assert resp.status == 403


async def test_employee_is_not_admin(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "admin") as resp:
            assert resp.status == 403
            token = csrf_of(await resp.text())
        async with http.post(
            s.portal_url + "admin/integrasjoner",
            data={"csrf_token": token, "navn": "X", "autorisert_orgnr": "910000004"},
        ) as resp:
            assert resp.status == 403


async def test_admin_creates_integration_and_it_works_through_the_api(
    portal_stack: PortalStack,
) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        async with http.get(s.portal_url + "admin") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            s.portal_url + "admin/integrasjoner",
            data={
                "csrf_token": token,
                "navn": "Nytt fagsystem",
                "autorisert_orgnr": "910000004",
                "beskrivelse": "test",
                "priv_KJORETOYREGISTER.OPPSLAG": "on",
            },
        ) as resp:
            page = await resp.text()
            assert resp.status == 200, page
        integ = re.search(r'id="integrasjon-id">([^<]+)<', page)
        password = re.search(r'id="passord" class="secret">([^<]+)<', page)
        assert integ and password
        bearer = await s.token(http)
        url = f"{s.gateway_url}/{s.fiks_org_id}/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
        headers = {
            "Authorization": f"Bearer {bearer}",
            "IntegrasjonId": integ.group(1),
            "IntegrasjonPassord": password.group(1),
        }
        async with http.post(
            url,
            data=orjson.dumps([{"kjennemerke": "CU11297"}]),
            headers={**headers, "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        # Owner search was not granted: 403 from the gateway.
        async with http.get(
            f"{s.gateway_url}/{s.fiks_org_id}/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn",
            params={"navn": "Kari Nordmann"},
            headers=headers,
        ) as resp:
            assert resp.status == 403


async def _lookup(http: aiohttp.ClientSession, s: PortalStack, kind: str, value: str) -> str:
    async with http.get(s.portal_url + "oppslag") as resp:
        token = csrf_of(await resp.text())
    async with http.post(
        s.portal_url + "oppslag",
        data={
            "csrf_token": token,
            "kind": kind,
            "value": value,
            "dtg": "",
            "formaal": "Kontroll",
            "saksreferanse": "2026/7",
        },
    ) as resp:
        assert resp.status == 200
        return await resp.text()


@pytest.mark.parametrize(
    ("kind", "value"), [("understellsnummer", "sisdinky45727043"), ("kuid", "3378150582")]
)
async def test_lookup_by_vin_and_kuid(portal_stack: PortalStack, kind: str, value: str) -> None:
    async with browser_session() as http:
        await login(http, portal_stack, EMPLOYEE.pid, EMPLOYEE.name)
        page = await _lookup(http, portal_stack, kind, value)
    assert "CU 11297" in page and "SISDINKY45727043" in page


async def test_unknown_plate_says_not_found(portal_stack: PortalStack) -> None:
    async with browser_session() as http:
        await login(http, portal_stack, EMPLOYEE.pid, EMPLOYEE.name)
        page = await _lookup(http, portal_stack, "kjennemerke", "ZZ99999")
    assert "Fant ikke noe kjøretøy" in page


async def test_invalid_identifier_is_a_clear_400(portal_stack: PortalStack) -> None:
    async with browser_session() as http:
        await login(http, portal_stack, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(portal_stack.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            portal_stack.portal_url + "oppslag",
            data={
                "csrf_token": token,
                "kind": "kjennemerke",
                "value": "<script>",
                "dtg": "",
                "formaal": "Kontroll",
                "saksreferanse": "1",
            },
        ) as resp:
            assert resp.status == 400
            page = await resp.text()
    assert "Forespørselen ble avvist" in page and "<script>" not in page


async def test_owner_search_pages(
    tmp_path,
    register_path,
    portal_template,  # type: ignore[no-untyped-def]
) -> None:
    from portal.helpers import start_portal_stack

    async with (
        start_portal_stack(
            tmp_path / "s",
            register_path=register_path,
            template=portal_template,
            portal={"page_size": 1},
        ) as s,
        browser_session() as http,
    ):
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "eiersok") as resp:
            token = csrf_of(await resp.text())
        form = {
            "csrf_token": token,
            "navn": "MØLLER BIL AS",
            "postnummer": "",
            "formaal": "Kontroll",
            "saksreferanse": "1",
        }
        async with http.post(s.portal_url + "eiersok", data={**form, "side": "1"}) as resp:
            first = await resp.text()
        async with http.post(s.portal_url + "eiersok", data={**form, "side": "2"}) as resp:
            second = await resp.text()
    assert "side 1 av 2" in first and "Neste side" in first
    assert "side 2 av 2" in second and "Forrige side" in second
    plates = [re.findall(r'name="value" value="([A-Z]{2} \d+)"', p) for p in (first, second)]
    assert len(plates[0]) == len(plates[1]) == 1 and plates[0] != plates[1]


async def test_no_identifiers_or_names_in_logs(
    portal_stack: PortalStack,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from kjoretoyregister.logs import configure_logging

    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    async with browser_session() as http:
        await login(http, portal_stack, EMPLOYEE.pid, EMPLOYEE.name)
        await _lookup(http, portal_stack, "kjennemerke", "CU11297")
        async with http.post(portal_stack.portal_url + "oppslag", data={"value": "CU11297"}):
            pass  # a CSRF refusal is logged too
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "portal_call" in logged and "csrf_refused" in logged
    for forbidden in (
        "CU11297",
        "CU 11297",
        "11297",
        EMPLOYEE.pid,
        "Saksbehandler",
        "MØLLER",
        "27838590026",
    ):
        assert forbidden not in logged, forbidden

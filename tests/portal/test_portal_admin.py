"""Administrator actions take effect at once on the API; lookups fail closed without audit."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import orjson
from sqlalchemy import select

from kjoretoyregister.audit.events import AuditEvent, AuditUnavailable
from kjoretoyregister.audit.models import AuditEntry, AuditItem
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.models import AdminHendelse
from portal.conftest import browser_session, csrf_of, login
from portal.helpers import ADMINISTRATOR, EMPLOYEE, PortalStack, Template, start_portal_stack

BULK = "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"


async def _api_status(http: aiohttp.ClientSession, s: PortalStack, integ: str, pw: str) -> int:
    token = await s.token(http)
    async with http.post(
        f"{s.gateway_url}/{s.fiks_org_id}{BULK}",
        data=orjson.dumps([{"kjennemerke": "CU11297"}]),
        headers={
            "Authorization": f"Bearer {token}",
            "IntegrasjonId": integ,
            "IntegrasjonPassord": pw,
            "Content-Type": "application/json",
        },
    ) as resp:
        await resp.read()
        return resp.status


async def _post(http: aiohttp.ClientSession, url: str, page_url: str, **data: str) -> str:
    async with http.get(page_url) as resp:
        token = csrf_of(await resp.text())
    async with http.post(url, data={"csrf_token": token, **data}) as resp:
        text = await resp.text()
        assert resp.status in (200, 303), (resp.status, text)
        return text


async def test_new_password_revoke_and_delete_take_effect(portal_stack: PortalStack) -> None:
    s = portal_stack
    admin = s.portal_url + "admin"
    base = f"{admin}/integrasjoner/{s.integrasjon_id}"
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        assert await _api_status(http, s, s.integrasjon_id, s.integrasjon_passord) == 200
        page = await _post(http, base + "/nytt-passord", admin)
        new = re.search(r'id="passord" class="secret">([^<]+)<', page)
        assert new and new.group(1) != s.integrasjon_passord
        assert await _api_status(http, s, s.integrasjon_id, s.integrasjon_passord) == 401
        assert await _api_status(http, s, s.integrasjon_id, new.group(1)) == 200
        await _post(
            http, base + "/tilgang", admin, privilegium="KJORETOYREGISTER.OPPSLAG", handling="fjern"
        )
        assert await _api_status(http, s, s.integrasjon_id, new.group(1)) == 403
        await _post(
            http, base + "/tilgang", admin, privilegium="KJORETOYREGISTER.OPPSLAG", handling="gi"
        )
        assert await _api_status(http, s, s.integrasjon_id, new.group(1)) == 200
        await _post(http, base + "/slett", admin)
        assert await _api_status(http, s, s.integrasjon_id, new.group(1)) == 401
    with s.session_factory() as db:
        actors = {
            h.actor for h in db.scalars(select(AdminHendelse)) if h.actor.startswith("portal:")
        }
    assert actors == {f"portal:{ADMINISTRATOR.name} [{_key(s, ADMINISTRATOR.pid)[:16]}]"}


def _key(s: PortalStack, pid: str) -> str:
    from kjoretoyregister.portal.roles import person_key

    return person_key(s.pseudonymizer, pid)


async def test_admin_cannot_touch_another_orgs_integration(portal_stack: PortalStack) -> None:
    s = portal_stack
    with s.session_factory.begin() as db:
        other, _ = service.create_integration(db, s.other_fiks_org_id, "Fremmed", "910000004")
        other_id = str(other.id)
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        async with http.get(s.portal_url + "admin") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            f"{s.portal_url}admin/integrasjoner/{other_id}/slett", data={"csrf_token": token}
        ) as resp:
            assert resp.status == 404
    with s.session_factory() as db:
        assert service.get_integration(db, other_id).deleted_at is None


async def test_activation_and_lookups_need_an_active_service(portal_stack: PortalStack) -> None:
    s = portal_stack
    with s.session_factory.begin() as db:
        service.deactivate(db, s.fiks_org_id)
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        form = {
            "csrf_token": token,
            "kind": "kjennemerke",
            "value": "CU11297",
            "dtg": "",
            "formaal": "Kontroll",
            "saksreferanse": "1",
        }
        async with http.post(s.portal_url + "oppslag", data=form) as resp:
            assert resp.status == 403
        async with browser_session() as admin_http:
            await login(admin_http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
            async with admin_http.get(s.portal_url + "admin") as resp:
                assert "Aktiver tjenesten" in await resp.text()
            await _post(admin_http, s.portal_url + "admin/aktiver", s.portal_url + "admin")
        async with http.post(s.portal_url + "oppslag", data=form) as resp:
            assert resp.status == 200
    with s.session_factory() as db:
        statuses = [
            e.http_status
            for e in db.scalars(
                select(AuditEntry).where(AuditEntry.kind == "lookup").order_by(AuditEntry.seq)
            )
        ]
    assert statuses == [403, 200]  # the refusal is audited too, like the gateway's 403


async def test_lookup_at_a_past_time_sends_dtg_with_offset(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            s.portal_url + "oppslag",
            data={
                "csrf_token": token,
                "kind": "kjennemerke",
                "value": "CU11297",
                "dtg": "2020-01-15T12:30",
                "formaal": "Kontroll",
                "saksreferanse": "1",
            },
        ) as resp:
            assert resp.status == 200
    with s.session_factory() as db:
        item = db.scalars(select(AuditItem)).one()
    assert item.dtg == "2020-01-15T12:30:00+01:00"


async def test_logout_ends_the_session(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        old = next(c.value for c in http.cookie_jar if c.key == "kjr_portal")
        async with http.get(s.portal_url) as resp:
            token = csrf_of(await resp.text())
        async with http.post(s.portal_url + "logg-ut", data={"csrf_token": token}) as resp:
            assert "Du er logget ut." in await resp.text()
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.get(
            s.portal_url + "oppslag", headers={"Cookie": f"kjr_portal={old}"}, allow_redirects=False
        ) as resp,
    ):
        assert resp.status == 303  # the old session id is worth nothing


class _BrokenSink:
    async def record(self, event: AuditEvent) -> None:
        raise AuditUnavailable("down")


async def test_lookup_fails_closed_when_audit_is_down(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> None:
    async with (
        start_portal_stack(
            tmp_path / "s",
            register_path=register_path,
            template=portal_template,
            portal_sink=_BrokenSink(),
        ) as s,
        browser_session() as http,
    ):
        await login(http, s, EMPLOYEE.pid, EMPLOYEE.name)
        async with http.get(s.portal_url + "oppslag") as resp:
            token = csrf_of(await resp.text())
        async with http.post(
            s.portal_url + "oppslag",
            data={
                "csrf_token": token,
                "kind": "kjennemerke",
                "value": "CU11297",
                "dtg": "",
                "formaal": "Kontroll",
                "saksreferanse": "1",
            },
        ) as resp:
            page = await resp.text()
            assert resp.status == 503
    assert "Kjennemerker" not in page and "Eier:" not in page


async def test_integration_created_with_required_purpose(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        page = await _post(
            http,
            s.portal_url + "admin/integrasjoner",
            s.portal_url + "admin",
            navn="Med formål",
            autorisert_orgnr="910000004",
            **{"priv_KJORETOYREGISTER.OPPSLAG": "on", "krev_formaal": "on"},
        )
        integ = re.search(r'id="integrasjon-id">([^<]+)<', page)
        password = re.search(r'id="passord" class="secret">([^<]+)<', page)
        assert integ and password
        assert await _api_status(http, s, integ.group(1), password.group(1)) == 400
    with s.session_factory() as db:
        grants = service.list_grants(db, integrasjon_id=integ.group(1))
    assert [g.purpose_required for g in grants] == [True]

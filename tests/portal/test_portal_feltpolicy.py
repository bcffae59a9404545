"""The administrator sets a grant's field policy in the portal; the API answer follows at once."""

from __future__ import annotations

import aiohttp
import orjson

from kjoretoyregister.konfig import service
from portal.conftest import browser_session, csrf_of, login
from portal.helpers import ADMINISTRATOR, PortalStack

BULK = "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
OPPSLAG = "KJORETOYREGISTER.OPPSLAG"


async def _lookup(http: aiohttp.ClientSession, s: PortalStack) -> tuple[int, bytes]:
    token = await s.token(http)
    async with http.post(
        f"{s.gateway_url}/{s.fiks_org_id}{BULK}",
        data=orjson.dumps([{"kjennemerke": "CU11302"}]),  # sisdinky: a person owns it
        headers={
            "Authorization": f"Bearer {token}",
            "IntegrasjonId": s.integrasjon_id,
            "IntegrasjonPassord": s.integrasjon_passord,
            "Content-Type": "application/json",
        },
    ) as resp:
        return resp.status, await resp.read()


async def _set(
    http: aiohttp.ClientSession, s: PortalStack, integration: str, value: str
) -> tuple[int, str]:
    async with http.get(s.portal_url + "admin") as resp:
        token = csrf_of(await resp.text())
    async with http.post(
        f"{s.portal_url}admin/integrasjoner/{integration}/feltpolicy",
        data={"csrf_token": token, "privilegium": OPPSLAG, "feltpolicy": value},
    ) as resp:
        return resp.status, await resp.text()


async def test_preset_set_in_portal_minimises_the_api_answer(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        status, full = await _lookup(http, s)
        assert status == 200 and b"fodselsnummer" in full and b"godkjenning" in full

        status, page = await _set(http, s, s.integrasjon_id, "parkering@1")
        assert status == 200 and "Feltpolicyen er endret." in page
        assert '<option value="parkering@1" selected>' in page
        status, body = await _lookup(http, s)
        assert status == 200
        assert b"fodselsnummer" not in body and b"godkjenning" not in body
        assert b"etternavn" in body  # the owner's name is what parking needs

        async with http.get(s.portal_url + "admin/logg") as resp:
            token = csrf_of(await resp.text())
        async with http.post(s.portal_url + "admin/logg", data={"csrf_token": token}) as resp:
            assert resp.status == 200
            assert "<td>parkering@1</td>" in await resp.text()

        status, page = await _set(http, s, s.integrasjon_id, "ukjent@1")
        assert status == 400 and "valid presets: parkering, tauing, teknisk" in page
        assert (await _lookup(http, s))[1] == body  # the refusal changed nothing

        status, page = await _set(http, s, s.integrasjon_id, "")
        assert status == 200
        assert (await _lookup(http, s))[1] == full  # no policy: SVV's answer unchanged


async def test_admin_cannot_set_another_orgs_policy(portal_stack: PortalStack) -> None:
    s = portal_stack
    with s.session_factory.begin() as db:
        other, _ = service.create_integration(db, s.other_fiks_org_id, "Fremmed", "910000004")
        service.grant(db, other.id, s.other_fiks_org_id, OPPSLAG)
        other_id = str(other.id)
    async with browser_session() as http:
        await login(http, s, ADMINISTRATOR.pid, ADMINISTRATOR.name)
        status, _ = await _set(http, s, other_id, "teknisk@1")
        assert status == 404
    with s.session_factory() as db:
        (row,) = [t for t in service.org_overview(db, s.other_fiks_org_id).tilganger]
        assert row.feltpolicy is None

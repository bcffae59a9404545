"""Min innsyn over HTTP: the person sees both organisations' lookups of them, nothing else."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from kjoretoyregister.audit.models import AuditEntry
from kjoretoyregister.portal import min_innsyn
from kjoretoyregister.portal.lookup import PERSON_PREFIX
from kjoretoyregister.portal.roles import person_key
from portal.conftest import browser_session, login
from portal.helpers import OUTSIDER, PortalStack
from portal.innsyn_seed import PURPOSE_A, PURPOSE_B, PURPOSE_OTHER, two_orgs_look_up_one_person

OWNER_NAME = "Straffet Vott"


def _table_rows(page: str) -> list[str]:
    body = page.split('id="min-innsyn"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", body, flags=re.S)


async def test_person_sees_both_organisations_and_nothing_else(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        fnr = await two_orgs_look_up_one_person(http, s)
    async with browser_session() as http:
        await login(http, s, fnr, OWNER_NAME)
        async with http.get(s.portal_url + "innsyn") as resp:
            assert resp.status == 200
            page = await resp.text()
        rows = _table_rows(page)
        assert len(rows) == 2, rows
        newest, oldest = rows
        assert "Annen kommune" in newest and PURPOSE_B in newest
        assert "Testkommune" in oldest and PURPOSE_A in oldest
        assert all("Integrasjon «" in r and "Oppslag på kjennemerke" in r for r in rows)
        assert all("Du var i svaret" in r for r in rows)
        assert PURPOSE_OTHER not in page  # a lookup of someone else's vehicle
        assert fnr not in page  # the page never needs the clear fnr

        async with http.get(s.portal_url + "innsyn/innsyn.json") as resp:
            assert resp.status == 200
            assert "attachment" in resp.headers["Content-Disposition"]
            doc = orjson.loads(await resp.read())
        assert doc["antall"] == 2 and doc["ufullstendig"] is False
        assert [r["formaal"] for r in doc["oppslag"]] == [PURPOSE_B, PURPOSE_A]

        async with http.get(s.portal_url + "innsyn/innsyn.pdf") as resp:
            assert resp.status == 200 and resp.content_type == "application/pdf"
            pdf = await resp.read()
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        for expected in ("Annen kommune", "Testkommune", PURPOSE_A, PURPOSE_B, OWNER_NAME):
            assert expected in text
        assert PURPOSE_OTHER not in text

    # Each read of one's innsyn is itself in the audit chain, under the person's pseudonym.
    with s.engine.connect() as conn:
        reads = conn.execute(
            select(AuditEntry.actor).where(
                AuditEntry.kind == "access",
                AuditEntry.actor == PERSON_PREFIX + person_key(s.pseudonymizer, fnr),
            )
        ).all()
    assert len(reads) == 3  # page, JSON, PDF


async def test_someone_never_looked_up_sees_none(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        await two_orgs_look_up_one_person(http, s)
        await login(http, s, OUTSIDER.pid, OUTSIDER.name)
        async with http.get(s.portal_url + "innsyn") as resp:
            page = await resp.text()
        assert resp.status == 200 and "Ingen oppslag funnet" in page
        assert PURPOSE_A not in page and PURPOSE_B not in page
        async with http.get(s.portal_url + "innsyn/innsyn.json") as resp:
            assert orjson.loads(await resp.read())["oppslag"] == []


async def test_pages_back_through_a_long_history(
    portal_stack: PortalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = portal_stack
    monkeypatch.setattr(min_innsyn, "PAGE_ROWS", 1)
    async with browser_session() as http:
        fnr = await two_orgs_look_up_one_person(http, s)
        await login(http, s, fnr, OWNER_NAME)
        async with http.get(s.portal_url + "innsyn") as resp:
            page = await resp.text()
        (first,) = _table_rows(page)
        older = re.search(r'href="([^"]*innsyn\?foer=\d+)"', page)
        assert PURPOSE_B in first and older
        async with http.get(s.root + older.group(1)) as resp:
            page = await resp.text()
        (second,) = _table_rows(page)
        assert PURPOSE_A in second and "Eldre oppslag" not in page
        async with http.get(s.portal_url + "innsyn?foer=abc") as resp:
            assert resp.status == 400


async def test_needs_a_login(portal_stack: PortalStack) -> None:
    s = portal_stack
    async with browser_session() as http:
        for path in ("innsyn", "innsyn/innsyn.pdf", "innsyn/innsyn.json"):
            async with http.get(s.portal_url + path, allow_redirects=False) as resp:
                assert resp.status in (302, 303), path
                assert resp.headers["Location"].rstrip("/").endswith("/portal")

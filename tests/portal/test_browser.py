"""The portal in a real browser: Playwright driving Debian's Chromium, with axe-core checks.

One journey through the main pages (each checked by axe-core for serious/critical violations):
an employee logs in with the ID-porten stand-in, looks up a vehicle with purpose and case
reference and sees the card, searches by owner name; the administrator logs in, finds that
lookup in the audit view, exports CSV, creates an integration and the shown password works
for a real gateway call with a real Maskinporten token; roles, usage and innsyn pages render.

Screenshots go to ``tmp_path``, or to the directory in ``PORTAL_SCREENSHOTS`` (the committed
ones in ``docs/screenshots/`` were made with ``PORTAL_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from portal.helpers import ADMINISTRATOR, EMPLOYEE, PortalStack, Template, ThreadedPortalStack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PLATE = "CU11297"


@pytest.fixture
def threaded_stack(
    tmp_path: Path, register_path: Path, portal_template: Template
) -> Iterator[ThreadedPortalStack]:
    runner = ThreadedPortalStack(tmp_path / "stack", register_path, template=portal_template)
    with runner:
        yield runner


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("PORTAL_SCREENSHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _axe_clean(page: Any, name: str) -> None:
    """No serious or critical axe-core violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe violations on {name}: {bad}"


def _login(page: Any, s: PortalStack, person_name: str) -> None:
    page.goto(s.portal_url)
    page.get_by_role("link", name="Logg inn med ID-porten").click()
    page.get_by_role("button", name=person_name).first.click()
    page.wait_for_url(s.portal_url)
    assert page.get_by_role("heading", name=f"Velkommen, {person_name}").is_visible()


def _no_identifiers_in(url: str, *values: str) -> None:
    for value in values:
        assert value.lower() not in url.lower(), url


def test_portal_journey(chromium: Path, threaded_stack: ThreadedPortalStack, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    s = threaded_stack.stack
    assert s is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1200, "height": 860}, locale="nb-NO", accept_downloads=True
            )
            context.set_default_timeout(60_000)  # a shared 2-core machine can be slow
            page = context.new_page()
            visited: list[str] = []
            page.on("framenavigated", lambda frame: visited.append(frame.url))

            # -- login page
            page.goto(s.portal_url)
            _axe_clean(page, "innlogging")
            # Keyboard: the first Tab reaches the skip link, which moves focus to <main>.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Hopp til hovedinnhold"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "innhold"
            page.screenshot(path=str(shots / "01-innlogging.png"))

            # -- employee: ID-porten stand-in, front page
            page.get_by_role("link", name="Logg inn med ID-porten").click()
            assert "TestID" in page.title()
            page.screenshot(path=str(shots / "02-testid.png"))
            page.get_by_role("button", name=EMPLOYEE.name).first.click()
            page.wait_for_url(s.portal_url)
            _axe_clean(page, "forside")
            page.screenshot(path=str(shots / "03-forside.png"))

            # -- lookup with purpose and case reference → card
            page.get_by_role("link", name="Oppslag", exact=True).first.click()
            _axe_clean(page, "oppslag")
            page.get_by_label("Kjennemerke, understellsnummer eller kuid").fill("cu 11297")
            page.get_by_label("Formål med oppslaget").fill("Parkeringsgebyr")
            page.get_by_label("Saksreferanse").fill("2026/4711")
            page.get_by_role("button", name="Slå opp").click()
            card = page.locator("article.vehicle").first
            card.wait_for()
            assert PLATE in card.locator("h2").inner_text().replace(" ", "")
            assert card.get_by_text("Eier:").is_visible()
            assert card.get_by_role("heading", name="Kjennemerker").is_visible()
            owner_line = card.locator(".parties li").first.inner_text()
            _axe_clean(page, "oppslag med kort")
            page.screenshot(path=str(shots / "04-oppslag-kort.png"), full_page=True)

            # -- the same card on a phone-sized screen
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(shots / "05-mobil-kort.png"))
            page.set_viewport_size({"width": 1200, "height": 860})

            # -- owner search by name (the owner of the card), with paging controls
            owner_name = owner_line.split(":", 1)[1].split("(")[0].strip()
            page.get_by_role("link", name="Eiersøk").first.click()
            _axe_clean(page, "eiersøk")
            page.get_by_label("Navn", exact=False).first.fill(owner_name)
            page.get_by_label("Formål med oppslaget").fill("Kontroll av eierforhold")
            page.get_by_label("Saksreferanse").fill("2026/4712")
            page.get_by_role("button", name="Søk", exact=True).click()
            page.locator("section.results").wait_for()
            assert "treff" in page.locator("section.results").inner_text()
            _axe_clean(page, "eiersøk med treff")
            page.screenshot(path=str(shots / "06-eiersok.png"), full_page=True)

            # -- log out, log in as the administrator
            page.get_by_role("button", name="Logg ut").click()
            assert page.get_by_text("Du er logget ut.").is_visible()
            _login(page, s, ADMINISTRATOR.name)

            page.get_by_role("link", name="Integrasjoner", exact=True).click()
            _axe_clean(page, "administrasjon")
            page.screenshot(path=str(shots / "07-admin.png"), full_page=True)

            # -- the employee's lookup is in the audit view
            page.get_by_role("link", name="Logg", exact=True).click()
            _axe_clean(page, "logg")
            page.get_by_role("button", name="Vis").click()
            table = page.locator("table.log")
            table.wait_for()
            text = table.inner_text()
            assert "Kari Saksbehandler (portalen)" in text
            assert "Parkeringsgebyr" in text and "2026/4711" in text
            assert PLATE in text.replace(" ", "")
            _axe_clean(page, "logg med treff")
            page.screenshot(path=str(shots / "08-logg.png"), full_page=True)

            # -- CSV export of the same filters
            with page.expect_download() as dl:
                page.get_by_role("button", name="Last ned CSV").click()
            content = Path(dl.value.path()).read_text(encoding="utf-8")
            rows = list(csv.DictReader(io.StringIO(content)))
            assert any(r["case_reference"] == "2026/4711" for r in rows), rows[:2]
            assert any(r["identifier"] == PLATE for r in rows)

            # -- create an integration, copy its password, use it through the API
            page.get_by_role("link", name="Integrasjoner", exact=True).click()
            page.get_by_label("Navn").fill("Parkeringssystem")
            page.get_by_label("Autorisert organisasjon (org.nr.)").fill("910000004")
            page.get_by_label("Beskrivelse").fill("Leverandørens parkeringssystem")
            page.get_by_role("button", name="Opprett integrasjon").click()
            assert page.get_by_role("heading", name="Integrasjonen er opprettet").is_visible()
            integrasjon_id = page.locator("#integrasjon-id").inner_text().strip()
            password = page.locator("#passord").inner_text().strip()
            page.get_by_role("button", name="Kopier passordet").click()
            page.locator(".copy-status").filter(has_text="opi").wait_for()
            _axe_clean(page, "passord")
            page.screenshot(path=str(shots / "09-passord.png"))
            status = threaded_stack.run(_api_call(s, integrasjon_id, password))
            assert status == 200

            # -- roles, usage, innsyn
            page.get_by_role("link", name="Roller", exact=True).click()
            assert page.get_by_role("cell", name="Kari Saksbehandler", exact=True).is_visible()
            _axe_clean(page, "roller")
            page.screenshot(path=str(shots / "10-roller.png"), full_page=True)
            page.get_by_role("link", name="Bruk", exact=True).click()
            assert page.get_by_text("Forespørsler").is_visible()
            _axe_clean(page, "bruk")
            page.get_by_role("link", name="Innsyn", exact=True).click()
            page.get_by_label("Type").select_option("kjennemerke")
            page.get_by_label("Verdi").fill(PLATE)
            page.get_by_role("button", name="Lag rapport").click()
            report = page.locator("section.results")
            report.wait_for()
            assert "Parkeringsgebyr" in report.inner_text()
            _axe_clean(page, "innsyn")
            page.screenshot(path=str(shots / "11-innsyn.png"), full_page=True)

            # No identifier ever appeared in a URL the browser visited.
            for u in visited:
                _no_identifiers_in(u, PLATE, "cu 11297", "cu%2011297", EMPLOYEE.pid, owner_name)
            context.close()
        finally:
            browser.close()


async def _api_call(s: PortalStack, integrasjon_id: str, password: str) -> int:
    """A real gateway call with a real Maskinporten token and the new integration's password."""
    async with aiohttp.ClientSession() as http:
        token = await s.token(http)
        url = f"{s.gateway_url}/{s.fiks_org_id}/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
        async with http.post(
            url,
            data=orjson.dumps([{"kjennemerke": PLATE}]),
            headers={
                "Authorization": f"Bearer {token}",
                "IntegrasjonId": integrasjon_id,
                "IntegrasjonPassord": password,
                "Content-Type": "application/json",
            },
        ) as resp:
            await resp.read()
            return resp.status


PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS_SCROLL = """() => {
  const doc = document.documentElement;
  const hidden = [...document.querySelectorAll('main *')]
    .filter(e => e.clientWidth > 1 && e.scrollWidth > e.clientWidth + 1)
    .filter(e => getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.tagName + '.' + e.className);
  return {page: doc.scrollWidth, hidden: hidden};
}"""
FOCUSED = "() => { const e = document.activeElement; return [e.tagName, e.id, e.className]; }"
IN_VIEW = """() => {
  const r = document.activeElement.getBoundingClientRect();
  return r.top >= -1 && r.bottom <= window.innerHeight ? true : [r.top, r.bottom, window.scrollY];
}"""


def _fits_the_phone(page: Any, name: str) -> None:
    """Nothing wider than the 390 px screen: no sideways scrolling, not even inside a box."""
    measured = page.evaluate(NO_SIDEWAYS_SCROLL)
    assert measured["page"] <= PHONE["width"], (name, measured)
    assert not measured["hidden"], (name, measured)


def test_first_hour_on_a_phone(
    chromium: Path, threaded_stack: ThreadedPortalStack, shots: Path
) -> None:
    """Issue 14's first hour, at 390x844: errors and answers take focus, search rows open the
    card, nothing is cut off sideways, and no page logs a console error (the icon is served)."""
    from playwright.sync_api import sync_playwright

    s = threaded_stack.stack
    assert s is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, locale="nb-NO", is_mobile=True)
            context.set_default_timeout(60_000)
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console",
                lambda m: (
                    errors.append(f"{page.url}: {m.text}")
                    if m.type == "error" and page.url.startswith(s.portal_url)
                    else None
                ),
            )
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            failed: list[str] = []
            page.on(
                "response",
                lambda r: (
                    failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.url.startswith(s.root)
                    else None
                ),
            )

            page.goto(s.portal_url)
            icon = page.locator('link[rel="icon"]').get_attribute("href")
            assert icon and page.request.get(s.root + icon).status == 200
            _login(page, s, EMPLOYEE.name)

            # -- input errors: a summary at the top, focused, each error linked to its field
            page.get_by_role("link", name="Oppslag", exact=True).first.click()
            page.get_by_label("Kjennemerke, understellsnummer eller kuid").fill(PLATE)
            page.get_by_role("button", name="Slå opp").click()
            summary = page.locator(".error-summary")
            summary.wait_for()
            assert summary.get_attribute("role") == "alert"
            assert page.evaluate(FOCUSED)[2] == "error-summary"
            assert page.title().startswith("Feil:")
            _axe_clean(page, "oppslag med feil")
            summary.get_by_role("link", name="Oppgi formålet med oppslaget").click()
            assert page.evaluate(FOCUSED)[1] == "formaal"
            # The form with errors comes back as 400 (Chromium logs that page's status): the
            # one expected error; nothing else on it failed.
            assert failed == [f"400 {s.portal_url}oppslag"], failed
            assert len(errors) == 1 and "status of 400" in errors[0], errors
            errors.clear()
            failed.clear()

            # -- the answer: focus moves to the card's heading, which is on screen
            page.get_by_label("Formål med oppslaget").fill("Parkeringsgebyr")
            page.get_by_label("Saksreferanse").fill("2026/4713")
            page.get_by_role("button", name="Slå opp").click()
            page.locator("article.vehicle").first.wait_for()
            assert page.evaluate(FOCUSED)[:2] == ["H2", "kort-1"]
            assert page.evaluate(IN_VIEW) is True, page.evaluate(IN_VIEW)
            assert PLATE in page.locator("#kort-1").inner_text().replace(" ", "")
            _fits_the_phone(page, "oppslag med kort")
            _axe_clean(page, "oppslag med kort på mobil")
            page.screenshot(path=str(shots / "12-mobil-kort.png"), full_page=True)
            owner_line = page.locator("article.vehicle .parties li").first.inner_text()
            owner_name = owner_line.split(":", 1)[1].split("(")[0].strip()

            # -- owner search: the hits' heading takes focus; a row opens that vehicle's card
            page.get_by_role("link", name="Eiersøk").first.click()
            page.get_by_label("Navn", exact=False).first.fill(owner_name)
            page.get_by_label("Formål med oppslaget").fill("Kontroll av eierforhold")
            page.get_by_label("Saksreferanse").fill("2026/4714")
            page.get_by_role("button", name="Søk", exact=True).click()
            page.locator("section.results").wait_for()
            assert page.evaluate(FOCUSED)[:2] == ["H2", "treff"]
            assert page.evaluate(IN_VIEW) is True, page.evaluate(IN_VIEW)
            _fits_the_phone(page, "eiersøk med treff")
            _axe_clean(page, "eiersøk med treff på mobil")
            page.screenshot(path=str(shots / "13-mobil-eiersok.png"), full_page=True)
            row_link = page.get_by_role("button", name="Vis kjøretøykortet for CU 11297")
            row_link.click()
            card = page.locator("article.vehicle").first
            card.wait_for()
            assert PLATE in card.locator("h2").inner_text().replace(" ", "")
            assert page.evaluate(FOCUSED)[:2] == ["H2", "kort-1"]
            # the lookup form shows what was looked up, with the search's purpose and case
            assert page.get_by_label("Saksreferanse").input_value() == "2026/4714"
            _fits_the_phone(page, "kort fra eiersøk")

            # -- the other main pages
            page.get_by_role("link", name="Forside").click()
            page.get_by_role("button", name="Logg ut").click()
            _login(page, s, ADMINISTRATOR.name)
            for name in ("Integrasjoner", "Roller", "Logg", "Bruk", "Innsyn"):
                page.get_by_role("link", name=name, exact=True).click()
                page.wait_for_load_state("load")
            assert not errors, errors
            assert not failed, failed
            context.close()
        finally:
            browser.close()

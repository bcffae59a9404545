"""Min innsyn in a real browser (Playwright + Debian's Chromium, axe-core checked).

A synthetic person whose vehicle two organisations looked up logs in with the ID-porten
stand-in (typing their own fødselsnummer, as at a real login) and sees exactly those two
lookups with their purposes, and the PDF download.
"""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest
from pypdf import PdfReader

from portal.helpers import ThreadedPortalStack
from portal.innsyn_seed import PURPOSE_A, PURPOSE_B, PURPOSE_OTHER, two_orgs_look_up_one_person
from portal.test_browser import CHROMIUM_ARGS, _axe_clean, shots, threaded_stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["shots", "threaded_stack"]  # fixtures shared with the journey test


async def _seed(stack: ThreadedPortalStack) -> str:
    assert stack.stack is not None
    async with aiohttp.ClientSession() as http:
        return await two_orgs_look_up_one_person(http, stack.stack)


def test_person_sees_who_looked_them_up(
    chromium: Path, threaded_stack: ThreadedPortalStack, shots: Path
) -> None:
    from playwright.sync_api import sync_playwright

    s = threaded_stack.stack
    assert s is not None
    fnr = threaded_stack.run(_seed(threaded_stack))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1200, "height": 860}, locale="nb-NO", accept_downloads=True
            )
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.goto(s.portal_url)
            page.get_by_role("link", name="Logg inn med ID-porten").click()
            page.locator("#pid").fill(fnr)
            page.locator("#name").fill("Straffet Vott")
            page.get_by_role("button", name="Logg inn", exact=True).click()
            page.wait_for_url(s.portal_url)
            page.get_by_role("link", name="Min innsyn").first.click()
            page.get_by_role("heading", name="Min innsyn: hvem har slått deg opp?").wait_for()
            _axe_clean(page, "min innsyn")
            page.screenshot(path=str(shots / "20-min-innsyn.png"), full_page=True)
            rows = page.locator("#min-innsyn tbody tr")
            assert rows.count() == 2
            texts = [rows.nth(i).inner_text() for i in range(2)]
            assert "Annen kommune" in texts[0] and PURPOSE_B in texts[0]
            assert "Testkommune" in texts[1] and PURPOSE_A in texts[1]
            assert PURPOSE_OTHER not in page.content()
            with page.expect_download() as info:
                page.get_by_role("link", name="Last ned PDF").click()
            pdf = Path(info.value.path()).read_bytes()
            text = "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf)).pages)
            assert PURPOSE_A in text and PURPOSE_B in text
        finally:
            browser.close()

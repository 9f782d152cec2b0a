"""The Content-Security-Policy does not break the panel (issue 9): in a real Chromium, no page violates it,
and the presence switch (no longer an inline `onchange`) still submits on change."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from crm import managers
from crm.database import Pool
from tests.conftest import PASSWORD, MakeManager
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)

Client = TestClient[web.Request, web.Application]
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
                          (e) => window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__csp")
    return found


async def test_csp_holds_and_the_presence_switch_still_works(browser: Browser, client: Client,  # noqa: F811
                                                             pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin", name="Ольга Админ")
    base = str(client.make_url("/")).rstrip("/")
    page = await browser.new_page()
    await page.add_init_script(RECORD_VIOLATIONS)
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", admin.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{base}/")
    assert await violations(page) == []

    async with page.expect_navigation():
        await page.select_option("select[name=presence]", "away")
    assert (await managers.get_manager(pool, admin.id)).presence == "away"
    await expect(page.locator("select[name=presence]")).to_have_value("away")

    for path in ("/", "/customers", "/tasks", "/calls", "/managers", "/routing", "/account/security"):
        await page.goto(f"{base}{path}")
        assert await violations(page) == [], path
    # The recorder works: an inline style attribute, as the pages had, is refused and reported.
    await page.evaluate("document.body.setAttribute('style', 'color: red')")
    await page.wait_for_function("window.__csp.length > 0")
    assert any(v.startswith("style-src") for v in await violations(page))
    await page.close()

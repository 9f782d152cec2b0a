"""A real browser drives the panel: log in, search a phone typed the Russian way, open the card.

Debian's Chromium runs headless through Playwright. `make test` installs it; if it is
missing the test fails rather than skips, so a broken CI image cannot pass silently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, async_playwright, expect

from crm import customers
from crm.customers import CustomerInput
from crm.database import Pool
from tests.conftest import PASSWORD, MakeManager

Client = TestClient[web.Request, web.Application]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """Debian's Chromium, or a failure (never a skip) naming the fix."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: install Debian's chromium (make system-deps)"
    return str(CHROMIUM)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                    args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_login_search_by_phone_and_open_the_card(browser: Browser, client: Client, pool: Pool,
                                                       make_manager: MakeManager) -> None:
    operator = await make_manager("operator", name="Анна Смирнова")
    customer = await customers.create_customer(pool, CustomerInput(
        name="Иванова Мария", vip=True, region="Москва", phones=("+79161234567",),
        responsible_manager_id=operator.id))
    await customers.create_customer(pool, CustomerInput(name="Петров Олег", phones=("+79035550000",)))
    base = str(client.make_url("/")).rstrip("/")

    page = await browser.new_page()
    await page.goto(f"{base}/customers")
    await expect(page).to_have_url(f"{base}/login?next=/customers")
    await page.fill("input[name=login]", operator.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{base}/customers")

    await page.fill("input[name=q]", "8 916 123-45-67")
    await page.press("input[name=q]", "Enter")
    results = page.locator("table.customers tbody tr")
    await expect(results).to_have_count(1)
    await results.get_by_role("link", name="Иванова Мария").click()

    await expect(page).to_have_url(f"{base}/customers/{customer.id}")
    await expect(page.locator("h1.customer-name")).to_contain_text("Иванова Мария")
    await expect(page.locator(".phones .phone")).to_have_text("+7 916 123-45-67")
    await expect(page.locator("#calls")).to_contain_text("Звонков пока нет")
    await page.close()

"""A real browser (Debian's Chromium) on the live panel: the pop before answer, its states, the journal
refreshing itself, nothing for a colleague, a hostile caller-ID name shown as bounded text.

Calls arrive as the tracker hands them to the recorder (call facts), through the real PostgreSQL
LISTEN/NOTIFY bus and the real websocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import T0, inbound_answered
from tests.conftest import PASSWORD, MakeManager
from tests.live_helpers import LivePanel, live_panel, simulated_shop
from tests.test_browser import browser as browser  # noqa: F401  (the Chromium fixture)
from web.config import Settings

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def panel(settings: Settings, pool: Pool, db_dsn: str) -> AsyncIterator[LivePanel]:
    async with live_panel(settings, pool, db_dsn) as running:
        yield running


class _Base:
    """Anything with a test `client` (a LivePanel, or a client alone)."""

    def __init__(self, client: Client) -> None:
        self.client = client


async def _open_panel(browser: Browser, panel: LivePanel | _Base, login: str, path: str) -> Page:
    base = str(panel.client.make_url("/")).rstrip("/")
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/login?next={path}")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{base}{path}")
    await expect(page.locator("#live-pops")).to_have_attribute("data-connected", "true")
    return page


async def test_the_operator_sees_the_caller_before_answering_and_the_card_updates_itself(
        browser: Browser, panel: LivePanel, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    boris = await make_manager("operator", name="Борис Кузнецов", extensions=("102",))
    customer = await customers.create_customer(pool, CustomerInput(
        name="Иванова Мария", vip=True, phones=("+79161110001",), responsible_manager_id=anna.id))
    await orders.create_order(pool, OrderInput(number="10234", customer_id=customer.id, total="4990"), None)
    page = await _open_panel(browser, panel, anna.login, f"/customers/{customer.id}")
    other = await _open_panel(browser, panel, boris.login, "/calls")
    await page.evaluate("window.__notReloaded = true")

    facts = inbound_answered(caller="79161110001", ext="101")
    await panel.feed(facts[:2])  # ringing 101, not answered
    pop = page.locator(".pop")
    await expect(pop).to_have_attribute("data-state", "ringing")
    await expect(pop.locator(".pop-customer")).to_have_text("Иванова Мария")
    await expect(pop.locator(".badge.vip")).to_be_visible()
    await expect(pop.locator(".pop-open-orders")).to_contain_text("10234")
    await expect(pop.locator(".pop-title")).to_have_text("Входящий звонок")

    await panel.feed(facts[2:3])
    await expect(pop).to_have_attribute("data-state", "in_call")
    await panel.feed(facts[3:])
    await expect(pop).to_have_attribute("data-state", "ended")
    await expect(pop.locator(".pop-title")).to_have_text("Звонок завершён · 0:03")
    await expect(page.locator("#calls")).to_contain_text("Отвечен")  # the card's calls block, no reload
    assert await page.evaluate("window.__notReloaded") is True

    # After the call: its result and a note, from the pop.
    form = pop.locator(".pop-result")
    await expect(form).to_be_visible()
    await form.locator("select").select_option(label="консультация")
    await form.locator("textarea").fill("Спрашивала про доставку")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".pop-result-status")).to_have_text("Сохранено")
    assert await pool.fetchval("SELECT disposition FROM calls WHERE linkedid = $1", facts[0].call_id) == "consultation"
    note = await pool.fetchval("SELECT body FROM notes WHERE customer_id = $1", customer.id)
    assert note == "Спрашивала про доставку"

    # Boris gets his own call, and only it: had Anna's reached him, it would have come first.
    lid = "1795346000.5"
    await panel.feed([cf.CallStarted(call_id=lid, at=T0 + 60, direction=cf.Direction.INBOUND,
                                     caller="79035550000", dialled="74951234501"),
                      cf.LegRinging(call_id=lid, at=T0 + 60.01, channel="PJSIP/102-00000010", extension="102",
                                    number=None)])
    await expect(other.locator(".pop")).to_have_count(1)
    await expect(other.locator(".pop")).to_have_attribute("data-call", lid)
    await expect(other.locator(".pop .badge.new")).to_be_visible()  # an unknown number: the new contact


async def test_a_hostile_caller_id_name_is_shown_as_short_plain_text(browser: Browser, panel: LivePanel,
                                                                      make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    page = await _open_panel(browser, panel, anna.login, "/")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>\x07' + "Ж" * 10_000
    lid = "1795346100.7"
    await panel.feed([cf.CallStarted(call_id=lid, at=T0, direction=cf.Direction.INBOUND, caller="79035551111",
                                     dialled="74951234501", caller_name=hostile),
                      cf.LegRinging(call_id=lid, at=T0 + 0.01, channel="PJSIP/101-00000011", extension="101",
                                    number=None)])
    name = page.locator(".pop .pop-caller-name")
    await expect(name).to_be_visible()
    text = await name.text_content() or ""
    assert "<" not in text and "onerror" not in text.split(":", 1)[0] and len(text) < 200
    assert await page.locator(".pop img, .pop script").count() == 0
    assert dialogs == []


_WATCH_POP_STATES = """() => {
  window.__popStates = [];
  const note = (el) => { if (el.classList && el.classList.contains("pop")) window.__popStates.push(el.dataset.state); };
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "attributes") note(change.target);
      for (const node of change.addedNodes || []) {
        if (node.nodeType === 1) { note(node); node.querySelectorAll(".pop").forEach(note); }
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
}"""


def _dedup(states: list[str]) -> list[str]:
    return [state for i, state in enumerate(states) if i == 0 or state != states[i - 1]]


async def test_the_call_button_shows_the_call_progress(browser: Browser, settings: Settings, pool: Pool,
                                                        db_dsn: str, make_manager: MakeManager) -> None:
    """Click-to-call from the customer card against the PBX simulator (real AMI on loopback)."""
    anna = await make_manager("operator", extensions=("101",))
    customer = await customers.create_customer(pool, CustomerInput(name="Соколова Ирина", phones=("+79035557788",),
                                                                   responsible_manager_id=anna.id))
    async with simulated_shop(settings, pool, db_dsn, speed=4, mean_talk_s=1) as shop:
        page = await _open_panel(browser, _Base(shop.client), anna.login, f"/customers/{customer.id}")
        # Every state the pop shows, as it changes: at the simulator's speed "calling the customer" may last
        # less than one of expect()'s polls, so the order is checked once the call is over.
        await page.evaluate(_WATCH_POP_STATES)
        await page.locator(".phones .call-button").click()
        pop = page.locator(".pop")
        await expect(pop.locator(".pop-customer")).to_have_text("Соколова Ирина", timeout=15_000)
        await expect(pop).to_have_attribute("data-state", "ended", timeout=30_000)
        states = _dedup(await page.evaluate("window.__popStates"))
        assert [s for s in states if s in ("ringing_you", "calling_customer", "connected", "ended")] == [
            "ringing_you", "calling_customer", "connected", "ended"], states
        await expect(pop.locator(".pop-title")).to_contain_text("Звонок завершён")
        await expect(page.locator("#calls")).to_contain_text("исходящий")  # the card's calls, no reload

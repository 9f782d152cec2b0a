"""The head of sales' audit: figures checked against direct SQL counts, exports, the API, the charts."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from playwright.async_api import Browser

from crm import audit, callbacks, customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from tests.calls_scenarios import inbound_answered, no_answer, queue_abandoned, record
from tests.conftest import PASSWORD, MakeManager, login
from tests.test_browser import browser as browser  # noqa: F401  (the Chromium fixture)

Client = TestClient[web.Request, web.Application]
DAY = datetime(2026, 11, 22, tzinfo=UTC)  # the scenarios' calls start on 2026-11-22 around 11:00 UTC


@pytest.fixture
async def seeded(pool: Pool, make_manager: MakeManager) -> AsyncIterator[dict[str, int]]:
    anna = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    await make_manager("operator", name="Борис Кузнецов", extensions=("102",))
    await customers.create_customer(pool, CustomerInput(name="=HYPERLINK(\"x\")", phones=("+79161110003",),
                                                        responsible_manager_id=anna.id))
    base = 1795345255.0
    await record(pool, [
        *inbound_answered(lid="1800000501.1", caller="79161110001", t=base),
        *no_answer(lid="1800000502.1", caller="79161110003", t=base + 100),        # called back below
        *no_answer(lid="1800000503.1", caller="79035550503", t=base + 200),        # never called back
        *queue_abandoned(lid="1800000504.1", caller="79035550504", t=base + 300),  # gave up in the queue
    ])
    for lid in ("1800000502.1", "1800000503.1", "1800000504.1"):
        await callbacks.on_missed_call(pool, lid)
    await record(pool, inbound_answered(lid="1800000505.1", caller="79161110003", t=base + 400))  # the callback
    await callbacks.on_call_ended(pool, "1800000505.1")
    yield {"anna": anna.id}


async def test_the_figures_are_what_the_database_says(pool: Pool, seeded: dict[str, int]) -> None:
    figures = await audit.missed_calls_audit(pool, DAY, DAY + timedelta(days=1))
    sql = await pool.fetchrow(
        "SELECT count(*) AS inbound, count(*) FILTER (WHERE outcome = 'answered') AS answered, "
        "count(*) FILTER (WHERE outcome IN ('missed', 'lost')) AS missed FROM calls "
        "WHERE direction = 'inbound' AND started_at >= $1 AND started_at < $2", DAY, DAY + timedelta(days=1))
    assert sql is not None
    assert (figures.inbound, figures.answered, figures.missed) == (sql["inbound"], sql["answered"], sql["missed"])
    assert (figures.inbound, figures.answered, figures.missed) == (5, 2, 3)
    assert figures.missed_by_reason == {"no_answer": 2, "abandoned": 1}
    assert (figures.callback_tasks, figures.reached, figures.reached_on_time) == (3, 1, 1)
    assert figures.callback_median_s is not None and 280 < figures.callback_median_s < 320  # 300 s after the miss
    assert [n.phone for n in figures.never_called_back] == ["+79035550503", "+79035550504"]  # oldest first
    assert (figures.queued, figures.abandoned_in_queue) == (1, 1)
    assert sum(figures.missed_per_hour) == sum(figures.missed_per_weekday) == 3
    assert figures.missed_per_hour[14] == 3  # 11:00 UTC is 14:00 in Moscow
    anna = next(m for m in figures.by_manager if m.manager_id == seeded["anna"])
    assert (anna.taken, anna.missed_while_assigned, anna.callbacks_on_time) == (2, 1, 1)


async def test_exports_and_the_api(client: Client, pool: Pool, seeded: dict[str, int], make_manager: MakeManager
                                   ) -> None:
    await login(client, await make_manager("operator"))
    assert (await client.get("/audit?from=2026-11-22&to=2026-11-22")).status == 403
    await login(client, await make_manager("supervisor"))
    query = "from=2026-11-22&to=2026-11-22"
    rows = list(csv.reader(io.StringIO((await (await client.get(f"/audit/managers.csv?{query}")).text())
                                       .lstrip("\ufeff"))))
    assert rows[0][0] == "manager" and any(r[0] == "Анна Смирнова" and r[1] == "2" for r in rows)
    book = load_workbook(io.BytesIO(await (await client.get(f"/audit/missed.xlsx?{query}")).read()))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in sheet[2]][:3] == ["+79035550503", "Новый клиент +7 903 555-05-03", 1]
    report = await (await client.get(f"/api/v1/reports/missed-calls?{query}")).json()
    assert (report["inbound"], report["missed"], report["callbacks"]["reached"]) == (5, 3, 1)
    assert (await client.get("/api/v1/reports/missed-calls?from=2026-13-01")).status == 400


async def test_a_formula_in_a_customer_name_stays_text_in_the_exports(client: Client, pool: Pool,
                                                                      seeded: dict[str, int],
                                                                      make_manager: MakeManager) -> None:
    await pool.execute("UPDATE tasks SET status = 'open', outcome = '' WHERE phone = '+79161110003'")
    await login(client, await make_manager("supervisor"))
    text = await (await client.get("/audit/missed.csv?from=2026-11-22&to=2026-11-22")).text()
    assert "'=HYPERLINK" in text


async def test_the_dashboard_in_a_browser_matches_sql_and_draws_its_charts(
        browser: Browser, client: Client, pool: Pool, seeded: dict[str, int], make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    base = str(client.make_url("/")).rstrip("/")
    page = await browser.new_page()
    await page.goto(f"{base}/login?next=/audit?from=2026-11-22%26to=2026-11-22")
    await page.fill("input[name=login]", head.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(f"{base}/audit?from=2026-11-22&to=2026-11-22")
    missed = await pool.fetchval("SELECT count(*) FROM calls WHERE outcome = 'missed' AND direction = 'inbound'")
    assert await page.locator('[data-figure="missed"]').text_content() == str(missed)
    assert await page.locator('[data-figure="never"]').text_content() == "2"
    charts = page.locator("img.chart")
    assert await charts.count() == 4
    widths = await charts.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert all(w and w > 100 for w in widths), widths


async def test_the_sales_funnel_counts_stages_and_time_in_them(client: Client, pool: Pool, make_manager: MakeManager
                                                               ) -> None:
    anna = await make_manager("operator", name="Анна Смирнова")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", phones=("+79161119999",)))
    made = [await orders.create_order(pool, OrderInput(number=f"F-{n}", customer_id=customer.id, manager_id=anna.id,
                                                       total="1"), None) for n in range(4)]
    for order in made[:3]:
        await orders.change_status(pool, order.id, "confirmed", None)
    await orders.change_status(pool, made[0].id, "assembling", None)
    await orders.change_status(pool, made[3].id, "cancelled", None)
    now = datetime.now(UTC)
    stages = {s.code: s for s in await audit.sales_funnel(pool, now - timedelta(days=1), now + timedelta(days=1))}
    assert (stages["new"].reached, stages["confirmed"].reached, stages["assembling"].reached) == (4, 3, 1)
    assert stages["confirmed"].conversion == 0.75 and stages["assembling"].conversion == pytest.approx(1 / 3)
    assert stages["cancelled"].reached == 1 and stages["cancelled"].conversion is None
    assert "Анна Смирнова" in stages["new"].hours_by_manager
    await login(client, await make_manager("supervisor"))
    day = now.date().isoformat()
    html = await (await client.get(f"/audit?from={day}&to={day}")).text()
    assert "Воронка продаж" in html and 'data-status="confirmed"' in html

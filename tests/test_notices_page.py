"""Customer notices in the panel: a status change sends its template's notice once; the admins' page edits the
texts and quiet hours and shows each notice's fate, escaped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import Order
from crm.notices import data
from crm.notices.data import NoticeConfig
from crm.orders import OrderInput
from tests.conftest import MakeManager, csrf_from, login
from tests.notice_helpers import NOON, SmsGateway, job_context, running_gateway
from web.jobs import notice_delivery
from web.jobs.runtime import job_app
from web.notice_settings import NoticeSettings

Client = TestClient[web.Request, web.Application]
PHONE = "+79161110003"


@pytest.fixture
async def gateway() -> AsyncIterator[SmsGateway]:
    async with running_gateway() as running:
        yield running


async def _order(pool: Pool, name: str = "Петрова Анна", number: str = "10234") -> Order:
    customer = await customers.create_customer(pool, CustomerInput(name=name, phones=(PHONE,)))
    return await orders.create_order(pool, OrderInput(number=number, customer_id=customer.id, total="1500"), None)


async def _send_due(pool: Pool, db_dsn: str, gateway: SmsGateway) -> None:
    """The minutely sweep at noon, and the sends it queues, on the real worker."""
    app = job_app(db_dsn)
    async with app.open_async():
        await app.configure_task("release_notices").defer_async(timestamp=int(NOON.timestamp()))
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context=job_context(pool, gateway.url))


async def test_a_status_with_a_template_sends_exactly_one_notice(client: Client, pool: Pool, db_dsn: str,
                                                                 make_manager: MakeManager,
                                                                 gateway: SmsGateway) -> None:
    await data.save_config(pool, NoticeConfig(templates={"shipped": "Ваш заказ {order_number} отправлен"}))
    order = await _order(pool)
    csrf = await login(client, await make_manager("supervisor"))
    for status in ("confirmed", "assembling", "shipped"):  # only "shipped" has a text
        moved = await client.post(f"/orders/{order.id}/status", data={"_csrf": csrf, "status": status},
                                  allow_redirects=False)
        assert moved.status == 303
    await _send_due(pool, db_dsn, gateway)
    await _send_due(pool, db_dsn, gateway)  # the sweep and the job again: still one
    [body] = gateway.bodies()
    history_id = await pool.fetchval("SELECT max(id) FROM order_status_history WHERE order_id = $1", order.id)
    assert body == {"to": PHONE, "text": "Ваш заказ 10234 отправлен", "kind": "order_status",
                    "id": f"order-status:{order.id}:{history_id}"}
    headers = gateway.got[0][0]
    assert gateway.signature_ok() and headers["X-Perezvon-Event-Id"] == body["id"]

    # Through the API too (the shop's own system moves it): delivered has no text, so nothing more.
    api = await client.post(f"/api/v1/orders/{order.id}/status", json={"status": "delivered"},
                            headers={"X-CSRF-Token": csrf})
    assert api.status == 200
    await _send_due(pool, db_dsn, gateway)
    assert len(gateway.got) == 1


async def test_a_refusing_gateway_is_retried_and_the_failure_shown(client: Client, pool: Pool, db_dsn: str,
                                                                   make_manager: MakeManager,
                                                                   gateway: SmsGateway) -> None:
    await data.save_config(pool, NoticeConfig(templates={"confirmed": "Заказ {order_number}: {status}"}))
    order = await _order(pool)
    csrf = await login(client, await make_manager("admin"))
    await client.post(f"/api/v1/orders/{order.id}/status", json={"status": "confirmed"},
                      headers={"X-CSRF-Token": csrf})
    gateway.status = 502
    await _send_due(pool, db_dsn, gateway)
    [notice] = await data.recent(pool)
    assert (notice.state, notice.attempts, notice.body) == ("queued", 1, "Заказ 10234: Подтверждён")
    page = await (await client.get("/settings/notices")).text()
    assert "HTTP 502: number blocked &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    failures = await pool.fetchval("SELECT count(*) FROM job_failures WHERE task_name = 'send_notice'")
    assert failures >= 1  # on the Background jobs page as well

    gateway.status = 200
    # The job's retry waits out its backoff (scheduled seconds ahead): let that time pass, then the worker runs.
    retry = await pool.fetchval("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE task_name = 'send_notice' "
                                "AND status = 'todo' RETURNING attempts")
    assert retry == 1
    await _send_due(pool, db_dsn, gateway)
    [notice] = await data.recent(pool)
    assert (notice.state, notice.attempts) == ("sent", 2) and len(gateway.got) == 2
    assert gateway.bodies()[0]["id"] == gateway.bodies()[1]["id"]  # the same id: the gateway can drop a repeat


async def test_admins_edit_the_texts_and_quiet_hours(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    await login(client, await make_manager("supervisor"))
    assert (await client.get("/settings/notices")).status == 403
    await login(client, await make_manager("admin"))
    page = await (await client.get("/settings/notices")).text()
    assert 'href="/settings/notices"' in page and "Уведомления клиентам" in page and 'name="template_shipped"' in page
    csrf = await csrf_from(client, "/settings/notices")
    form = {"_csrf": csrf, "shop_name": "Ромашка", "quiet_enabled": "on", "quiet_start": "22:30", "quiet_end": "08:00",
            "missed_enabled": "on", "missed_template": "{shop}: перезвоним за {minutes} мин.",
            "template_shipped": "Ваш заказ {order_number} отправлен", "template_new": "  "}
    saved = await client.post("/settings/notices", data=form, allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == "/settings/notices?saved=1"
    config = await data.load_config(pool)
    assert (config.shop_name, config.quiet.start.hour, config.quiet.start.minute, config.quiet.end.hour) == (
        "Ромашка", 22, 30, 8)
    assert config.missed_enabled and dict(config.templates) == {"shipped": "Ваш заказ {order_number} отправлен"}

    refused = await client.post("/settings/notices", data={**form, "template_shipped": "Заказ {номер} отправлен"})
    assert refused.status == 422
    text = await refused.text()
    assert "шаблон уведомления (shipped): неизвестная подстановка {номер}" in text
    assert "Заказ {номер} отправлен</textarea>" in text  # the admin's text comes back to be corrected
    assert dict((await data.load_config(pool)).templates) == {"shipped": "Ваш заказ {order_number} отправлен"}
    no_shop = await client.post("/settings/notices", data={**form, "shop_name": ""})
    assert "название магазина: обязательно, если в шаблоне есть {shop}" in await no_shop.text()
    same = await client.post("/settings/notices", data={**form, "quiet_end": "22:30"})
    assert "тихие часы: начало и конец должны различаться" in await same.text()
    bad_time = await client.post("/settings/notices", data={**form, "quiet_start": "9pm"})
    assert "начало тихих часов: время вида 21:00" in await bad_time.text()
    assert (await client.post("/settings/notices", data={k: v for k, v in form.items() if k != "_csrf"})).status == 403


async def test_the_page_escapes_hostile_text(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    hostile = '<script>alert("x")</script>'
    await data.save_config(pool, NoticeConfig(templates={"confirmed": "{customer}, заказ {order_number} принят"}))
    order = await _order(pool, name=hostile, number="<img src=x onerror=alert(1)>")
    await orders.change_status(pool, order.id, "confirmed", None)
    moved = await orders.get_order(pool, order.id)
    await notice_delivery.order_status_changed(None, pool, NoticeSettings(), order.id, moved.status_changed_at)
    await login(client, await make_manager("admin"))
    csrf = await csrf_from(client, "/settings/notices")
    refused = await client.post("/settings/notices", data={"_csrf": csrf, "quiet_start": "21:00", "quiet_end": "09:00",
                                                           "missed_template": "{<b>bold</b>}",
                                                           "template_shipped": "</textarea><script>x</script>"})
    page = await refused.text()
    assert refused.status == 422
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, заказ &lt;img src=x onerror=alert(1)&gt; принят" in page
    assert "&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;</textarea>" in page

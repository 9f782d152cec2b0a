"""Alerts: an order past its status's time limit (with a follow-up task), once per cause; the alerts page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import alerts, customers, orders, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from crm.tasks import TaskInput
from tests.conftest import MakeManager, csrf_from, login
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import job_app
from web.live.hub import Audience

Client = TestClient[web.Request, web.Application]


async def _late_order(pool: Pool, manager_id: int, minutes_in_status: int) -> int:
    customer = await customers.create_customer(pool, CustomerInput(name="Сидоров Пётр", phones=("+79161112233",)))
    order = await orders.create_order(pool, OrderInput(number="10500", customer_id=customer.id, manager_id=manager_id,
                                                       total="1000"), None)
    await pool.execute("UPDATE orders SET status_changed_at = now() - make_interval(mins => $2) WHERE id = $1",
                       order.id, minutes_in_status)
    return order.id


async def test_an_order_past_its_limit_alerts_its_manager_once_then_escalates(pool: Pool, make_manager: MakeManager
                                                                               ) -> None:
    anna = await make_manager("operator")
    order_id = await _late_order(pool, anna.id, 7)  # «Новый» has a 5-minute limit
    now = datetime.now(UTC)
    [first] = await alerts.raise_order_limit_alerts(pool, now)
    assert (first.order_id, first.level, first.manager_id) == (order_id, 1, anna.id)
    task = await pool.fetchrow("SELECT kind, assignee_id, order_id FROM tasks WHERE id = $1", first.task_id)
    assert task is not None
    assert (task["kind"], task["assignee_id"], task["order_id"]) == ("follow_up", anna.id, order_id)
    assert await alerts.raise_order_limit_alerts(pool, now) == []  # never twice, whoever runs it
    await pool.execute("UPDATE orders SET status_changed_at = now() - interval '11 minutes' WHERE id = $1", order_id)
    raised = await alerts.raise_order_limit_alerts(pool, now)
    # The same stay in the status, now twice its limit: the escalation (the moved clock is a new stay too).
    assert 2 in [a.level for a in raised]
    await orders.change_status(pool, order_id, "confirmed", None)
    assert await alerts.raise_order_limit_alerts(pool, datetime.now(UTC)) == []  # a fresh status: on time


async def test_the_alerts_page_scopes_and_acknowledges(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    boris = await make_manager("operator")
    await _late_order(pool, anna.id, 7)
    [alert] = await alerts.raise_order_limit_alerts(pool, datetime.now(UTC))
    await login(client, boris)
    assert "10500" not in await (await client.get("/alerts")).text()
    await login(client, anna)
    page = await (await client.get("/alerts")).text()
    assert "Заказ № 10500 дольше срока в статусе «Новый»" in page
    csrf = await csrf_from(client, "/alerts")
    done = await client.post(f"/alerts/{alert.alert_id}/acknowledge", data={"_csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    assert "10500" not in await (await client.get("/alerts")).text()
    assert "Просмотрено" in await (await client.get("/alerts?show=all")).text()
    again = await client.post(f"/alerts/{alert.alert_id}/acknowledge", data={"_csrf": csrf}, allow_redirects=False)
    assert again.status == 409


async def test_a_task_that_comes_due_reminds_its_assignee_once(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    now = datetime.now(UTC)
    due = await tasks.create_task(pool, TaskInput(kind="follow_up", title="Прислать счёт", assignee_id=anna.id,
                                                  due_at=now - timedelta(minutes=1)), None)
    await tasks.create_task(pool, TaskInput(kind="follow_up", title="Потом", assignee_id=anna.id,
                                            due_at=now + timedelta(hours=1)), None)
    [reminder] = await alerts.due_reminders(pool, now)
    assert (reminder.task_id, reminder.assignee_id, reminder.title) == (due.id, anna.id, "Прислать счёт")
    assert await alerts.due_reminders(pool, now) == []


class _RecordingBus:
    """A live bus that keeps what was published, for whom."""

    def __init__(self) -> None:
        self.sent: list[tuple[Audience, dict[str, Any]]] = []

    async def publish(self, audience: Audience, message: Mapping[str, Any]) -> None:
        self.sent.append((audience, dict(message)))


async def test_the_minutely_check_tells_the_manager_live_of_a_late_order(pool: Pool, db_dsn: str,
                                                                       make_manager: MakeManager) -> None:
    """With no webhook waiting for a retry, the order's alert still reaches its manager's panel."""
    anna = await make_manager("operator")
    order_id = await _late_order(pool, anna.id, 7)
    bus = _RecordingBus()
    app = job_app(db_dsn)
    async with app.open_async():
        await app.configure_task("check_deadlines").defer_async(timestamp=int(datetime.now(UTC).timestamp()))
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context={"env": JobEnvironment(pool, bus)})
    alerts_sent = [(a, m) for a, m in bus.sent if m["type"] == "alert.raised" and m.get("order") == order_id]
    assert alerts_sent and alerts_sent[0][0].managers == frozenset({anna.id})
    assert ("tasks.changed" in [m["type"] for a, m in bus.sent if anna.id in a.managers])

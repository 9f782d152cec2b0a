"""No missed call forgotten: one callback task per number, working-hours deadlines, closed when reached, alerts.

The facts are those the tracker emits for real Asterisk 22 calls (tests/calls_scenarios.py); the job path
runs the real procrastinate worker on the test database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import callbacks, customers, managers, tasks
from crm.callbacks import CallbackSettings, working_deadline
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import InvalidInput
from crm.models import DayHours, Holiday, RoutingSchedule
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import T0, inbound_answered, no_answer, record, ringall_answered_by_102
from tests.conftest import MakeManager, login
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import defer_call_ended, job_app
from web.live.bus import LocalBus
from web.live.hub import LiveHub

CALLER = "79161110003"
E164 = "+" + CALLER
#: Weekdays 09:00-21:00 and weekends 10:00-18:00 in Moscow, as the seeded global schedule.
SHOP = RoutingSchedule(1, "", "Europe/Moscow",
                       (*(DayHours(d, 540, 1260) for d in range(1, 6)), DayHours(6, 600, 1080), DayHours(7, 600, 1080)),
                       "voicemail:general", (Holiday(date(2026, 12, 31), "Новый год"),))
MSK = timedelta(hours=3)


def _msk(y: int, m: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC) - MSK


def test_deadlines_count_working_minutes() -> None:
    assert working_deadline(_msk(2026, 12, 1, 12, 0), 5, SHOP) == _msk(2026, 12, 1, 12, 5)
    assert working_deadline(_msk(2026, 12, 1, 23, 40), 5, SHOP) == _msk(2026, 12, 2, 9, 5)  # «в 23:40»
    assert working_deadline(_msk(2026, 12, 1, 20, 58), 5, SHOP) == _msk(2026, 12, 2, 9, 3)  # 2 today, 3 tomorrow
    assert working_deadline(_msk(2026, 12, 30, 22, 0), 5, SHOP) == _msk(2027, 1, 1, 9, 5)  # the holiday is closed
    assert working_deadline(_msk(2026, 12, 1, 3, 0), 5, None) == _msk(2026, 12, 1, 3, 5)


async def _customer(pool: Pool, responsible: int | None) -> int:
    customer = await customers.create_customer(pool, CustomerInput(name="Петрова Анна", phones=(E164,),
                                                                   responsible_manager_id=responsible))
    return customer.id


async def _callbacks(pool: Pool) -> list[dict[str, object]]:
    rows = await pool.fetch("SELECT * FROM tasks WHERE kind = 'callback' ORDER BY id")
    return [dict(r) for r in rows]


async def test_a_missed_call_opens_one_task_and_a_repeat_updates_it(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _customer(pool, anna.id)
    await record(pool, no_answer(lid="1800000200.1", caller=CALLER))
    first = await callbacks.on_missed_call(pool, "1800000200.1")
    again = await callbacks.on_missed_call(pool, "1800000200.1")  # a retried job counts the call once
    assert first.created and again.skipped == "already counted" and again.task_id == first.task_id
    [task] = await _callbacks(pool)
    ended = datetime.fromtimestamp(T0 + 19 + 8.006, UTC)
    assert (task["assignee_id"], task["phone"], task["missed_calls"], task["status"]) == (anna.id, E164, 1, "open")
    assert task["due_at"] == working_deadline(ended, 5, SHOP)  # the seeded schedule: Sunday 14:00 is open
    await record(pool, no_answer(lid="1800000201.1", caller=CALLER, t=T0 + 300))
    repeat = await callbacks.on_missed_call(pool, "1800000201.1")
    assert not repeat.created and repeat.task_id == first.task_id
    [task] = await _callbacks(pool)
    assert (task["missed_calls"], task["priority"]) == (2, 1)


async def test_an_answered_call_with_the_number_closes_the_callback(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _customer(pool, anna.id)
    await record(pool, no_answer(lid="1800000210.1", caller=CALLER))
    opened = await callbacks.on_missed_call(pool, "1800000210.1")
    await record(pool, inbound_answered(lid="1800000211.1", caller=CALLER, t=T0 + 600))
    reached = await callbacks.on_call_ended(pool, "1800000211.1")
    assert reached.closed_task_ids == (opened.task_id,)
    [task] = await _callbacks(pool)
    reached_call = await pool.fetchval("SELECT id FROM calls WHERE linkedid = '1800000211.1'")
    assert (task["status"], task["outcome"], task["reached_call_id"]) == ("done", "reached", reached_call)
    # The next missed call opens a new one.
    await record(pool, no_answer(lid="1800000212.1", caller=CALLER, t=T0 + 900))
    assert (await callbacks.on_missed_call(pool, "1800000212.1")).created


async def test_calls_that_get_no_task(pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await make_manager("operator", extensions=("102",))
    await record(pool, ringall_answered_by_102(lid="1800000220.1"))  # a colleague answered: nothing to return
    assert (await callbacks.on_missed_call(pool, "1800000220.1")).skipped == "not a missed inbound call"
    hidden = "1800000221.1"
    await record(pool, [
        cf.CallStarted(call_id=hidden, at=T0, direction=cf.Direction.INBOUND, caller="anonymous",
                       dialled="74951234501"),
        cf.CallEnded(call_id=hidden, at=T0 + 9, direction=cf.Direction.INBOUND, outcome=cf.Outcome.MISSED,
                     reason=cf.MissedReason.NO_ANSWER, answered_by=None, operator=None, customer_number=None,
                     hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=9, talk_s=None)])
    assert (await callbacks.on_missed_call(pool, hidden)).skipped == "hidden number"
    short = "1800000222.1"
    await record(pool, [
        cf.CallStarted(call_id=short, at=T0, direction=cf.Direction.INBOUND, caller="79035550101",
                       dialled="74951234501"),
        cf.CallEnded(call_id=short, at=T0 + 1.2, direction=cf.Direction.INBOUND, outcome=cf.Outcome.MISSED,
                     reason=cf.MissedReason.ABANDONED, answered_by=None, operator=None, customer_number="79035550101",
                     hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=1.2, talk_s=None)])
    assert (await callbacks.on_missed_call(pool, short)).skipped == "abandoned within seconds"
    assert (await callbacks.on_missed_call(pool, short, settings=CallbackSettings(exclude_short=False))).created
    assert len(await _callbacks(pool)) == 1


async def test_the_pool_callback_is_seen_by_supervisors_and_the_operators_it_rang(
        pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    boris = await make_manager("operator", extensions=("102",))
    head = await make_manager("supervisor")
    await record(pool, no_answer(lid="1800000230.1", caller="79035550230"))  # an unknown number: nobody's
    opened = await callbacks.on_missed_call(pool, "1800000230.1")
    assert opened.task_id is not None
    for viewer, sees in ((anna, True), (boris, False), (head, True)):
        page = await tasks.list_tasks(pool, viewer, tasks.TaskFilter(kind="callback"))
        assert [t.id for t in page.items] == ([opened.task_id] if sees else []), viewer.login
    with pytest.raises(InvalidInput):  # closed by hand only with what the conversation came to
        await tasks.close_task(pool, opened.task_id, anna, result_note=" ")
    closed = await tasks.close_task(pool, opened.task_id, anna, result_note="Перезвонила, оформили заказ")
    assert (closed.status, closed.outcome) == ("done", "manual")


async def test_an_overdue_callback_raises_one_alert_then_one_escalation(pool: Pool, make_manager: MakeManager
                                                                         ) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _customer(pool, anna.id)
    await record(pool, no_answer(lid="1800000240.1", caller=CALLER))
    opened = await callbacks.on_missed_call(pool, "1800000240.1")
    due = await pool.fetchval("SELECT due_at FROM tasks WHERE id = $1", opened.task_id)
    assert await callbacks.raise_overdue_alerts(pool, due - timedelta(seconds=1)) == []
    [alert] = await callbacks.raise_overdue_alerts(pool, due + timedelta(seconds=1))
    assert (alert.task_id, alert.level, alert.assignee_id) == (opened.task_id, 1, anna.id)
    assert await callbacks.raise_overdue_alerts(pool, due + timedelta(minutes=2)) == []  # never twice
    [escalation] = await callbacks.raise_overdue_alerts(pool, due + timedelta(minutes=6))
    assert escalation.level == 2
    assert await callbacks.raise_overdue_alerts(pool, due + timedelta(hours=1)) == []


async def test_the_job_queue_runs_it_once_however_often_it_is_queued(pool: Pool, db_dsn: str,
                                                                      make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await managers.set_presence(pool, anna.id, "online")
    await _customer(pool, anna.id)
    await record(pool, no_answer(lid="1800000250.1", caller=CALLER))
    app = job_app(db_dsn)
    env = {"env": JobEnvironment(pool, LocalBus(LiveHub()))}
    async with app.open_async():
        for _ in range(3):  # the end written three times (live, resync, recovery): one job waits
            await defer_call_ended(app, "1800000250.1")
        assert await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == 1
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["calls"],
                                   additional_context=env)
        await defer_call_ended(app, "1800000250.1")  # once more after it ran: the call is counted once all the same
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["calls"],
                                   additional_context=env)
    [task] = await _callbacks(pool)
    assert (task["missed_calls"], task["assignee_id"]) == (1, anna.id)
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'") == 2


async def test_the_tasks_list_counts_down_and_admins_see_the_queue(client: TestClient[web.Request, web.Application],
                                                                    pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _customer(pool, anna.id)
    await record(pool, no_answer(lid="1800000260.1", caller=CALLER))
    await record(pool, no_answer(lid="1800000261.1", caller=CALLER, t=T0 + 60))
    for lid in ("1800000260.1", "1800000261.1"):
        await callbacks.on_missed_call(pool, lid)
    await login(client, anna)
    html = await (await client.get("/tasks")).text()
    assert "Перезвонить: Петрова Анна" in html and "data-due-at=" in html and "×2" in html
    assert 'class="call-button"' in html
    await pool.execute("INSERT INTO job_failures (job_id, task_name, attempt, error) VALUES (7, 'call_ended', 1, "
                       "'ConnectionError: <boom>')")
    assert (await client.get("/settings/jobs")).status == 403
    await login(client, await make_manager("admin"))
    page = await (await client.get("/settings/jobs")).text()
    assert "Фоновые задания" in page and "ConnectionError: &lt;boom&gt;" in page

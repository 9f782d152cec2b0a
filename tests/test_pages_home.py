"""The start pages: the operator's own (current call, tasks, recent calls) and the head of sales' overview
(team now, calls in progress, today's answered / missed / not called back, overdue tasks per manager)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, managers, overview, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.tasks import TaskInput
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import inbound_answered, record
from tests.conftest import MakeManager, login
from web.config import Settings

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC).timestamp()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A shop whose day began over an hour ago: the page counts today's calls from local midnight, and the
    calls below are up to 10 minutes old (a run just after midnight in Moscow failed on that)."""
    zone = next(name for name in ("Europe/Moscow", "America/New_York", "Asia/Tokyo")
                if 1 <= datetime.now(ZoneInfo(name)).hour <= 22)
    return replace(settings, crm=replace(settings.crm, timezone=zone))


def _missed(lid: str, caller: str, t: float) -> list[cf.CallFact]:
    ch = f"PJSIP/101-{lid[-4:]}"
    return [cf.CallStarted(call_id=lid, at=t, direction=cf.Direction.INBOUND, caller=caller, dialled="74951234501"),
            cf.LegRinging(call_id=lid, at=t + 0.1, channel=ch, extension="101", number=None),
            cf.LegEnded(call_id=lid, at=t + 20, channel=ch, extension="101", number=None, dial_status="NOANSWER",
                        ring_s=20),
            cf.CallEnded(call_id=lid, at=t + 20, direction=cf.Direction.INBOUND, outcome=cf.Outcome.MISSED,
                         reason=cf.MissedReason.NO_ANSWER, answered_by=None, operator=None, customer_number=caller,
                         hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=20, talk_s=None)]


async def test_the_head_of_sales_sees_the_team_and_the_day(client: Client, pool: Pool, make_manager: MakeManager
                                                           ) -> None:
    anna = await make_manager("operator", name="Анна Смирнова", extensions=("101",))
    await managers.set_presence(pool, anna.id, "online")
    await customers.create_customer(pool, CustomerInput(name="Перезвонили", phones=("+79161110001",)))
    await tasks.create_task(pool, TaskInput(kind="callback", title="Просрочена", assignee_id=anna.id,
                                            due_at=datetime.now(UTC) - timedelta(hours=1)), None)
    # Two missed calls: one number was called back (answered later), the other was not.
    await record(pool, [*_missed("1800000001.1", "79161110001", NOW - 600), *_missed("1800000002.1", "79035550002",
                                                                                      NOW - 500)])
    await record(pool, inbound_answered(lid="1800000003.1", caller="79161110001", t=NOW - 300, ext="101"))
    # And one ringing now.
    await record(pool, inbound_answered(lid="1800000004.1", caller="79035550004", t=NOW - 5, ext="101")[:2])
    day_start = datetime.now(UTC) - timedelta(hours=1)
    figures = await overview.day_figures(pool, day_start)
    assert (figures.answered, figures.missed, figures.unreturned) == (1, 2, 1)
    [member] = [m for m in await overview.team(pool) if m.manager_id == anna.id]
    assert (member.presence, member.on_call, member.overdue_tasks) == ("online", "ringing", 1)
    await login(client, await make_manager("supervisor"))
    html = await (await client.get("/")).text()
    assert "Команда сейчас" in html and "Анна Смирнова" in html and "Звонит" in html
    assert "+7 903 555-00-02" in html  # not called back
    assert 'id="live-calls"' in html and 'data-live-refresh="calls presence tasks"' in html


async def test_the_operator_sees_their_call_tasks_and_recent_calls(client: Client, pool: Pool,
                                                                    make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await record(pool, inbound_answered(lid="1800000010.1", caller="79161110001", t=NOW - 5, ext="101")[:3])
    await record(pool, inbound_answered(lid="1800000011.1", caller="79161110002", t=NOW - 900, ext="101"))
    await login(client, anna)
    html = await (await client.get("/")).text()
    assert "Мой текущий звонок" in html and "Идёт разговор" in html
    assert "Мои последние звонки" in html and "+7 916 111-00-02" in html

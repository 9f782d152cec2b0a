"""Self-check calls: the schedule, one run per scheduled moment, the test call recognised coming back and kept
out of the figures, its verdicts, the page; placed through the PBX simulator's AMI like the real Asterisk.

The real Asterisk places and receives one in the PBX tier (tests/pbx/test_calls_self_check.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import audit, callbacks, customers
from crm.database import Pool
from crm.errors import InvalidInput
from crm.self_check import runs
from crm.self_check.schedule import ARRIVE_WITHIN, PLACE_WITHIN, SelfCheckSettings, due_slot, next_slot
from tests import calls_scenarios as sc
from tests.calls_scenarios import inbound_answered, no_answer, record
from tests.conftest import MakeManager, csrf_from, login
from tests.live_helpers import SimulatedShop, simulated_shop
from web.config import Settings
from web.self_check_caller import SelfCheckCaller

Client = TestClient[web.Request, web.Application]
MOSCOW = ZoneInfo("Europe/Moscow")
FRIDAY = SelfCheckSettings(enabled=True, weekdays=(5,), at_time=time(17, 45), did="74951234500",
                           caller="+74951234500")


def _moscow(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=MOSCOW)  # 2026-12-04 is a Friday


def test_the_scheduled_moment_is_due_for_a_while_then_skipped() -> None:
    slot = _moscow(4, 17, 45)
    assert due_slot(FRIDAY, _moscow(4, 17, 44), MOSCOW) is None
    assert due_slot(FRIDAY, slot, MOSCOW) == slot
    assert due_slot(FRIDAY, _moscow(4, 17, 54).astimezone(UTC), MOSCOW) == slot  # the same moment all along
    assert due_slot(FRIDAY, _moscow(4, 17, 56), MOSCOW) is None  # a worker down longer: skipped, not late
    assert due_slot(FRIDAY, _moscow(3, 17, 45), MOSCOW) is None  # Thursday
    assert due_slot(SelfCheckSettings(**{**FRIDAY.__dict__, "enabled": False}), slot, MOSCOW) is None
    late = SelfCheckSettings(enabled=True, weekdays=(5,), at_time=time(23, 55), did="1", caller="+74951234500")
    assert due_slot(late, _moscow(5, 0, 2), MOSCOW) == _moscow(4, 23, 55)  # past midnight: still Friday's
    assert next_slot(FRIDAY, _moscow(4, 18, 0), MOSCOW) == _moscow(11, 17, 45)
    assert next_slot(FRIDAY, _moscow(1, 9, 0), MOSCOW) == slot


def test_settings_refuse_what_cannot_be_called() -> None:
    with pytest.raises(InvalidInput, match="weekday"):
        SelfCheckSettings(weekdays=()).validated()
    with pytest.raises(InvalidInput, match="digits"):
        SelfCheckSettings(did="+7 495").validated()
    with pytest.raises(InvalidInput, match="give the number"):
        SelfCheckSettings(enabled=True).validated()
    assert SelfCheckSettings(weekdays=(5, 1, 5)).validated().weekdays == (1, 5)


async def test_a_moment_is_claimed_once_whoever_asks(pool: Pool) -> None:
    slot = _moscow(4, 17, 45)
    claims = await asyncio.gather(*(runs.claim_slot(pool, FRIDAY, slot) for _ in range(4)))
    assert len([c for c in claims if c is not None]) == 1
    assert await pool.fetchval("SELECT count(*) FROM self_check_runs") == 1


async def _calling(pool: Pool) -> runs.Run:
    await runs.save_settings(pool, FRIDAY)
    await runs.request_run(pool, FRIDAY, None)
    run = await runs.take_pending(pool)
    assert run is not None and run.linkedid.startswith("selfcheck-")
    return run


async def _at_placed(pool: Pool, run: runs.Run, when: datetime) -> None:
    await pool.execute("UPDATE self_check_runs SET placed_at = $2 WHERE id = $1", run.id, when)


async def test_the_shops_answer_is_recognised_and_kept_out_of_the_figures(pool: Pool, make_manager: MakeManager
                                                                         ) -> None:
    await make_manager("operator", extensions=("101",))
    run = await _calling(pool)
    facts = inbound_answered(lid="1800000500.1", caller="74951234500")
    await _at_placed(pool, run, datetime.fromtimestamp(sc.T0, UTC) - timedelta(seconds=1))
    await record(pool, facts)
    await record(pool, inbound_answered(lid="1800000501.1", caller="79161110001"))  # a real customer
    assert await runs.claim_call(pool, "1800000500.1") == run.id
    assert await runs.claim_call(pool, "1800000501.1") is None
    [view] = await runs.recent_runs(pool, datetime.now(UTC))
    assert (view.state, view.callback) == ("answered", "")
    assert view.ring_s is not None and view.ring_s > 0
    contact = await customers.find_by_phone(pool, "+74951234500")
    assert contact is not None and contact.name == runs.CONTACT_NAME  # the phone shows what it is
    day = datetime.fromtimestamp(sc.T0, UTC)
    figures = await audit.missed_calls_audit(pool, day - timedelta(days=1), day + timedelta(days=1))
    assert figures.inbound == 1  # the test call is not one of the shop's calls


async def test_a_missed_test_call_is_called_back_like_any_other_and_judged(pool: Pool, make_manager: MakeManager
                                                                          ) -> None:
    await make_manager("operator", extensions=("101",))
    run = await _calling(pool)
    facts = no_answer(lid="1800000510.1", caller="74951234500", t=sc.T0)
    await _at_placed(pool, run, datetime.fromtimestamp(sc.T0, UTC))
    await record(pool, facts)
    assert await runs.claim_call(pool, "1800000510.1") == run.id
    assert await runs.claim_call(pool, "1800000510.1") == run.id  # the job retried: the same verdict
    opened = await callbacks.on_missed_call(pool, "1800000510.1")
    assert opened.task_id is not None
    far_later = datetime.now(UTC) + timedelta(days=30)
    [view] = await runs.recent_runs(pool, far_later)
    assert (view.state, view.callback, view.callback_task_id) == ("missed", "overdue", opened.task_id)
    await pool.execute("UPDATE tasks SET status = 'done', closed_at = due_at - interval '1 minute' WHERE id = $1",
                       opened.task_id)
    [view] = await runs.recent_runs(pool, far_later)
    assert view.callback == "on_time"


async def test_runs_that_went_nowhere_get_their_verdict(pool: Pool) -> None:
    run = await _calling(pool)
    with pytest.raises(InvalidInput, match="already under way"):
        await runs.request_run(pool, FRIDAY, None)
    now = datetime.now(UTC)
    await _at_placed(pool, run, now - ARRIVE_WITHIN - timedelta(seconds=5))
    await runs.claim_slot(pool, FRIDAY, now - PLACE_WITHIN - timedelta(minutes=1))
    await pool.execute("UPDATE self_check_runs SET created_at = now() - interval '1 hour' WHERE state = 'pending'")
    assert await runs.expire(pool, now) == 2
    assert await runs.expire(pool, now) == 0
    states = {r["state"]: r["error"] for r in await pool.fetch("SELECT state, error FROM self_check_runs")}
    assert states == {"no_call": "the test call did not reach the shop's number",
                      "refused": "no instance holding the PBX connection placed it"}


@pytest.fixture
async def shop(settings: Settings, pool: Pool, db_dsn: str) -> AsyncIterator[SimulatedShop]:
    async with simulated_shop(settings, pool, db_dsn) as placed:
        yield placed


async def test_a_supervisor_schedules_and_places_one_through_the_pbx(shop: SimulatedShop, pool: Pool, db_dsn: str,
                                                                     make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    head = await make_manager("supervisor")
    await login(shop.client, head)
    csrf = await csrf_from(shop.client, "/audit/self-check")
    saved = await shop.client.post("/audit/self-check/settings", allow_redirects=False, data={
        "_csrf": csrf, "enabled": "1", "weekdays": ["1", "5"], "at_time": "17:45", "did": "74951234500",
        "caller": "8 495 123-45-00", "wait_s": "15"})
    assert saved.status == 303, await saved.text()
    assert (await runs.load_settings(pool)).caller == "+74951234500"
    refused = await shop.client.post("/audit/self-check/settings", data={
        "_csrf": csrf, "enabled": "1", "weekdays": ["5"], "at_time": "17:45", "did": "74951234500",
        "caller": "", "wait_s": "15"})
    assert refused.status == 422 and "номер" in await refused.text()

    caller = SelfCheckCaller(pool, shop.telephony, db_dsn)
    placed = await shop.client.post("/audit/self-check/call", data={"_csrf": csrf}, allow_redirects=False)
    assert placed.status == 303
    await caller.place_pending()
    assert caller.placed == 1
    [linkedid] = [r["linkedid"] for r in await pool.fetch("SELECT linkedid FROM self_check_runs "
                                                          "WHERE state = 'calling'")]
    assert shop.telephony.simulator is not None
    async with asyncio.timeout(30):
        await shop.telephony.simulator.wait_calls()
    await shop.telephony.recorder.drain()
    [call] = await pool.fetch("SELECT linkedid FROM calls WHERE customer_e164 = '+74951234500'")
    assert await runs.claim_call(pool, call["linkedid"]) is not None
    page = await (await shop.client.get("/audit/self-check")).text()
    assert 'data-state="answered"' in page and "вручную" in page
    assert linkedid  # the outgoing leg's id, kept on the run
    assert 'id="self-check"' in await (await shop.client.get("/audit")).text()


async def test_operators_may_not_see_or_place_them(client: Client, make_manager: MakeManager) -> None:
    await login(client, await make_manager("operator"))
    assert (await client.get("/audit/self-check")).status == 403

"""Call facts through the recorder into the real database: one row per Linkedid, legs, links, idempotence."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from crm import calls, customers, orders
from crm.calls import CallStart
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import Call, Manager
from crm.orders import OrderInput
from pbx_bridge import call_facts as cf
from tests import calls_scenarios as sc
from tests.conftest import MakeManager
from web.call_recorder import CallRecorder, leg_result, to_crm_input

TABLES = ("calls", "call_legs", "customers", "customer_phones")


def moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def the_call(pool: Pool, linkedid: str) -> Call:
    call = await calls.get_call(pool, linkedid)
    assert call is not None, linkedid
    return call


async def snapshot(pool: Pool) -> dict[str, list[dict[str, Any]]]:
    return {t: [dict(r) for r in await pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in TABLES}


async def customer_names(pool: Pool) -> list[str]:
    return [r["name"] for r in await pool.fetch("SELECT name FROM customers ORDER BY id")]


@pytest.fixture
async def ops(make_manager: MakeManager) -> tuple[Manager, Manager]:
    first = await make_manager("operator", name="Анна", extensions=("101",))
    second = await make_manager("operator", name="Борис", extensions=("102",))
    return first, second


async def test_inbound_answered_by_101(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, sc.inbound_answered())
    assert await pool.fetchval("SELECT count(*) FROM calls") == 1
    call = await the_call(pool, "1795345255.0")
    assert (call.direction, call.outcome, call.reason) == ("inbound", "answered", "")
    assert (call.caller, call.did, call.customer_e164) == ("79161110001", sc.DID, "+79161110001")
    assert (call.manager_id, call.manager_name, call.operator_extension) == (ops[0].id, "Анна", "101")
    assert call.answered_by == "101" and call.hung_up_by == "customer"
    assert call.started_at == moment(sc.T0)
    assert call.ended_at == moment(sc.T0 + 5.022)
    assert call.ring_s == pytest.approx(2.011) and call.talk_s == pytest.approx(3.011)
    assert call.answered_at is not None and abs((call.answered_at - moment(sc.T0 + 2.011)).total_seconds()) < 0.001
    assert call.customer_name == "Новый клиент +7 916 111-00-01"
    [leg] = call.legs
    assert (leg.channel, leg.extension, leg.number, leg.manager_id) == ("PJSIP/101-00000001", "101", None, ops[0].id)
    assert (leg.dial_status, leg.result) == ("ANSWER", "answered")
    assert leg.ringing_at == moment(sc.T0 + 0.007) and leg.ended_at == moment(sc.T0 + 5.022)
    assert leg.ring_s == pytest.approx(2.0047)


async def test_ring_all_answered_by_102_is_101s_answered_elsewhere(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, sc.ringall_answered_by_102())
    call = await the_call(pool, "1795345298.10")
    assert (call.outcome, call.manager_id, call.answered_by) == ("answered", ops[1].id, "102")
    assert [(leg.extension, leg.result, leg.manager_name) for leg in call.legs] == [
        ("101", "answered_elsewhere", "Анна"), ("102", "answered", "Борис")]
    # Both operators find it in their journal: 102 took it, it rang 101.
    for viewer in ops:
        page = await calls.list_calls(pool, viewer, calls.CallFilter())
        assert [c.linkedid for c in page.items] == ["1795345298.10"]


@pytest.mark.parametrize(("scenario", "reason", "results"), [
    (sc.no_answer, "no_answer", [("101", "no_answer")]),
    (sc.busy, "busy", [("101", "busy")]),
    (sc.queue_abandoned, "abandoned", [("101", "cancelled"), ("102", "cancelled")]),
])
async def test_missed_calls_have_their_reason(pool: Pool, ops: tuple[Manager, Manager], scenario: Any,
                                              reason: str, results: list[tuple[str, str]]) -> None:
    facts = scenario()
    await sc.record(pool, facts)
    call = await the_call(pool, facts[0].call_id)
    assert (call.outcome, call.reason, call.manager_id, call.answered_at) == ("missed", reason, None, None)
    assert call.talk_s == 0.0
    assert [(leg.extension, leg.result) for leg in call.legs] == results
    assert call.customer_name is not None and call.customer_name.startswith("Новый клиент +7 916 111-00-")


async def test_busy_leg_without_ringing_and_queue_details(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, [*sc.busy(), *sc.queue_abandoned()])
    [leg] = (await the_call(pool, "1795345286.6")).legs
    assert leg.ringing_at is None and leg.ended_at is not None and leg.dial_status == "BUSY"
    queued = await the_call(pool, "1795345330.19")
    assert queued.queue == "sales"
    assert await pool.fetchval("SELECT queue_hold_s FROM calls WHERE linkedid = '1795345330.19'") == 4.0


async def test_outbound_links_the_dialled_number_and_the_operator(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, sc.outbound())
    call = await the_call(pool, "1795345427.37")
    assert (call.direction, call.outcome, call.caller, call.callee) == ("outbound", "answered", "101", "79161110015")
    assert (call.manager_id, call.operator_extension, call.answered_by) == (ops[0].id, "101", "79161110015")
    assert call.hung_up_by == "operator" and call.hung_up_by_extension == "101"
    assert call.customer_e164 == "+79161110015" and call.customer_name == "Новый клиент +7 916 111-00-15"
    [leg] = call.legs
    assert (leg.extension, leg.number, leg.manager_id, leg.result) == (None, "79161110015", None, "answered")


async def test_click_to_call_links_the_customer_from_the_end(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, sc.click_to_call())
    call = await the_call(pool, "1795345391.33")
    assert call.click_to_call and call.direction == "outbound" and call.outcome == "answered"
    assert (call.manager_id, call.callee, call.customer_e164) == (ops[0].id, "79161110013", "+79161110013")
    # Answered means the customer picked up, not the operator's own ring.
    assert call.answered_at is not None and call.answered_at > moment(sc.T0 + 136 + 5)
    assert [(leg.extension, leg.number) for leg in call.legs] == [("101", None), (None, "79161110013")]


async def test_internal_call_creates_no_contact(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, sc.internal())
    call = await the_call(pool, "1795345500.50")
    assert (call.direction, call.customer_id, call.customer_e164) == ("internal", None, None)
    assert call.manager_id == ops[1].id
    assert await customer_names(pool) == []


@pytest.mark.parametrize("raw", ["anonymous", "<unknown>", "", "Anonymous <sip:anonymous@anonymous.invalid>"])
async def test_anonymous_caller_keeps_the_raw_value_and_creates_no_contact(pool: Pool, raw: str) -> None:
    await sc.record(pool, sc.no_answer(caller=raw))
    call = await the_call(pool, "1795345274.4")
    assert (call.caller, call.customer_id, call.customer_e164) == (raw, None, None)
    assert call.outcome == "missed"
    assert await customer_names(pool) == []


async def test_hostile_caller_id_is_stored_without_control_characters(pool: Pool) -> None:
    hostile = "<script>alert(1)</script>\x00\x1b[31m\u202e"
    await sc.record(pool, sc.inbound_answered(caller=hostile))
    call = await the_call(pool, "1795345255.0")
    assert call.caller == "<script>alert(1)</script>[31m"
    assert call.customer_id is None


async def test_known_customer_is_linked_with_their_open_order(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    known = await customers.create_customer(pool, CustomerInput(name="Ольга", phones=("8 (916) 111-00-01",)))
    closed = await orders.create_order(pool, OrderInput(number="A-1", customer_id=known.id), None)
    await orders.change_status(pool, closed.id, "cancelled", None)
    open_order = await orders.create_order(pool, OrderInput(number="A-2", customer_id=known.id), None)
    # The order must exist before the call ends: place the call just after now.
    await sc.record(pool, sc.inbound_answered(t=time.time() + 60))
    call = await the_call(pool, "1795345255.0")
    assert (call.customer_id, call.customer_name) == (known.id, "Ольга")
    assert (call.order_id, call.order_number) == (open_order.id, "A-2")
    assert await customer_names(pool) == ["Ольга"]
    assert [c.linkedid for c in await calls.list_customer_calls(pool, known.id)] == ["1795345255.0"]


async def test_order_created_after_the_call_is_not_linked(pool: Pool) -> None:
    known = await customers.create_customer(pool, CustomerInput(name="Ольга", phones=("+79161110001",)))
    await orders.create_order(pool, OrderInput(number="A-3", customer_id=known.id), None)
    await sc.record(pool, sc.inbound_answered(t=time.time() - 3600))
    call = await the_call(pool, "1795345255.0")
    assert (call.customer_id, call.order_id) == (known.id, None)


async def test_new_number_makes_one_contact_for_many_calls(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    await sc.record(pool, [*sc.no_answer(lid="1.1"), *sc.inbound_answered(lid="1.2", caller="89161110003"),
                           *sc.outbound(lid="1.3", number="+7 916 111-00-03")])
    assert await customer_names(pool) == ["Новый клиент +7 916 111-00-03"]
    ids = {(await the_call(pool, lid)).customer_id for lid in ("1.1", "1.2", "1.3")}
    [customer_id] = ids
    assert customer_id is not None
    assert [c.linkedid for c in await calls.list_customer_calls(pool, customer_id)] == ["1.3", "1.1", "1.2"]


async def test_two_calls_from_one_new_number_at_once_make_one_contact(pool: Pool) -> None:
    numbers = [f"7916111{n:04d}" for n in range(20, 28)]
    starts = [CallStart(linkedid=f"{number}.{i}", at=moment(sc.T0), direction="inbound", caller=number, dialled=sc.DID)
              for number in numbers for i in range(2)]
    await asyncio.gather(*(calls.record_call_started(pool, start) for start in starts))
    assert await pool.fetchval("SELECT count(*) FROM customers") == len(numbers)
    assert await pool.fetchval("SELECT count(*) FROM calls WHERE customer_id IS NULL") == 0
    pairs = await pool.fetch("SELECT customer_e164, count(DISTINCT customer_id) AS n FROM calls GROUP BY 1")
    assert {r["n"] for r in pairs} == {1} and len(pairs) == len(numbers)


async def test_replaying_the_facts_changes_nothing(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    facts = sc.all_scenarios()
    await sc.record(pool, facts)
    first = await snapshot(pool)
    assert len(first["calls"]) == 8 and len(first["call_legs"]) == 11
    await sc.record(pool, facts)
    assert await snapshot(pool) == first
    # A restart that replays one call from its middle changes nothing either.
    await sc.record(pool, sc.queue_abandoned()[4:])
    assert await snapshot(pool) == first


async def test_fact_without_time_uses_the_time_it_arrived(pool: Pool) -> None:
    facts = [cf.CallStarted(call_id="9.1", at=None, direction=sc.IN, caller="79161110001", dialled=sc.DID)]
    await sc.record(pool, facts, clock=lambda: sc.T0 + 1)
    assert (await the_call(pool, "9.1")).started_at == moment(sc.T0 + 1)


async def test_lost_call_start_still_gives_a_full_record(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    facts = sc.inbound_answered()[1:]  # the CallStarted write was lost
    await sc.record(pool, facts[:1])
    assert (await the_call(pool, "1795345255.0")).direction == "unknown"
    await sc.record(pool, facts[1:])
    call = await the_call(pool, "1795345255.0")
    assert (call.direction, call.outcome, call.manager_id, call.caller) == ("inbound", "answered", ops[0].id,
                                                                            "79161110001")
    assert call.customer_name == "Новый клиент +7 916 111-00-01"
    assert abs((call.started_at - moment(sc.T0)).total_seconds()) < 0.01


async def test_database_errors_are_retried_then_the_fact_is_dropped(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    delays: list[float] = []

    async def no_wait(delay: float) -> None:
        delays.append(delay)

    await pool.execute("ALTER TABLE call_legs RENAME TO call_legs_away")
    recorder = await sc.record(pool, sc.inbound_answered(), attempts=3, backoff_s=0.25, sleep=no_wait)
    await pool.execute("ALTER TABLE call_legs_away RENAME TO call_legs")
    # Three leg facts failed three times each (two waits each, doubling), the call's own facts were written.
    assert delays == [0.25, 0.5] * 3
    assert (recorder.stats.written, recorder.stats.dropped, recorder.stats.retried) == (2, 3, 6)
    call = await the_call(pool, "1795345255.0")
    assert call.outcome == "answered" and call.legs == ()


async def test_a_write_that_fails_once_is_retried_and_kept(pool: Pool, ops: tuple[Manager, Manager]) -> None:
    async def repair_while_waiting(delay: float) -> None:
        await pool.execute("ALTER TABLE call_legs_away RENAME TO call_legs")

    await pool.execute("ALTER TABLE call_legs RENAME TO call_legs_away")
    recorder = await sc.record(pool, sc.inbound_answered(), backoff_s=1.0, sleep=repair_while_waiting)
    assert (recorder.stats.written, recorder.stats.dropped, recorder.stats.retried) == (5, 0, 1)
    assert len((await the_call(pool, "1795345255.0")).legs) == 1


async def test_recorder_survives_a_closed_pool_and_keeps_later_facts(pool: Pool, db_dsn: str) -> None:
    from crm import database

    broken = await database.create_pool(db_dsn, min_size=1, max_size=1)
    await broken.close()
    recorder = await sc.record(broken, sc.no_answer()[:1], attempts=2, backoff_s=0.0)
    assert recorder.stats.dropped == 1
    # The same kind of recorder on a working pool writes the next facts.
    assert (await sc.record(pool, sc.no_answer())).stats.dropped == 0
    assert (await the_call(pool, "1795345274.4")).outcome == "missed"


async def test_on_fact_only_queues(pool: Pool) -> None:
    recorder = CallRecorder(pool, max_backlog=2)
    for fact in sc.no_answer():
        recorder.on_fact(fact)
    assert recorder.backlog == 2 and recorder.stats.dropped == 2
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0


def test_translation_of_facts() -> None:
    assert leg_result("CANCEL", answered_elsewhere=True) == "answered_elsewhere"
    assert [leg_result(s, False) for s in ("ANSWER", "NOANSWER", "BUSY", "CHANUNAVAIL", "CANCEL", "WHATEVER")] == [
        "answered", "no_answer", "busy", "unavailable", "cancelled", "failed"]
    agent = cf.AgentCalled(call_id="1", at=1.0, queue="sales", extension="101", member_name="x")
    assert to_crm_input(agent, 0.0) is None
    transfer = cf.Transferred(call_id="1", at=1.0, kind=cf.TransferKind.BLIND, from_extension="101", to="102")
    assert to_crm_input(transfer, 0.0) == calls.TransferEvent(linkedid="1", at=moment(1.0), kind="blind",
                                                              from_extension="101", to="102")


async def test_transfer_is_recorded(pool: Pool) -> None:
    facts = sc.inbound_answered()
    transfer = cf.Transferred(call_id=facts[0].call_id, at=sc.T0 + 4, kind=cf.TransferKind.ATTENDED,
                              from_extension="101", to="102")
    await sc.record(pool, [*facts[:3], transfer, *facts[3:]])
    call = await the_call(pool, facts[0].call_id)
    assert (call.transfer_kind, call.transferred_to) == ("attended", "102")


async def test_a_call_answered_before_we_looked_gets_asterisks_talk_time(pool: Pool) -> None:
    """A resynced call ends with no talk time; the Cdr's figure then fills it in, and the answer time and
    the wait follow from it. A figure never overwrites a talk time the bridge measured itself."""
    start = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    end = datetime(2026, 12, 1, 10, 0, 20, tzinfo=UTC)
    await calls.record_call_started(pool, CallStart(linkedid="r.1", at=start, direction="inbound",
                                                    caller="79161110031", dialled="74950000001", resynced=True))
    await calls.record_call_ended(pool, calls.CallEnd(
        linkedid="r.1", at=end, direction="inbound", outcome="answered", reason="", answered_by="101",
        operator="101", customer_number="79161110031", hung_up_by="customer", hung_up_by_extension=None,
        ring_s=None, talk_s=None))
    before = await calls.get_call(pool, "r.1")
    assert before is not None and before.talk_s is None and before.answered_at is None
    await calls.record_talk_time(pool, calls.TalkTime(linkedid="r.1", at=end, talk_s=12.0))
    after = await calls.get_call(pool, "r.1")
    assert after is not None and after.talk_s == 12.0 and after.ring_s == 8.0
    assert after.answered_at == datetime(2026, 12, 1, 10, 0, 8, tzinfo=UTC) and after.started_at == start
    await calls.record_talk_time(pool, calls.TalkTime(linkedid="r.1", at=end, talk_s=99.0))
    again = await calls.get_call(pool, "r.1")
    assert again is not None and again.talk_s == 12.0


async def test_a_resync_keeps_the_start_recorded_before(pool: Pool) -> None:
    first = datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)
    await calls.record_call_started(pool, CallStart(linkedid="r.2", at=first, direction="inbound",
                                                    caller="79161110032", dialled="74950000001"))
    # After a restart the resync estimates the start from Asterisk's whole-second Duration: a bit later.
    await calls.record_call_started(pool, CallStart(
        linkedid="r.2", at=datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC), direction="inbound", caller="79161110032",
        dialled="74950000001", resynced=True))
    call = await calls.get_call(pool, "r.2")
    assert call is not None and call.started_at == first

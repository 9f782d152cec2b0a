"""Routing's database side against a real PostgreSQL: context loading, admin CRUD, the decision on the call row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crm import calls, customers, managers, orders
from crm.calls import CallEnd, CallStart
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import Conflict, InvalidInput, NotFound
from crm.managers import ManagerInput
from crm.orders import OrderInput
from crm.routing import data as routing_data
from crm.routing.data import (
    GroupInput,
    NumberInput,
    RoutingSettingsInput,
    RuleInput,
    ScheduleInput,
)
from crm.routing.policy import LiveState, RouteDecision, decide_route
from tests.conftest import MakeManager

PHONE = "+79161234567"
DID = "+7 (495) 000-00-01"
# A Wednesday, 12:00 in Moscow: inside the default schedule.
NOON = datetime(2024, 5, 15, 9, 0, tzinfo=UTC)


async def online(pool: Pool, make_manager: MakeManager, ext: str, **fields: Any) -> int:
    manager = await make_manager(extensions=(ext,))
    if fields:
        base = ManagerInput(login=manager.login, display_name=manager.display_name, extensions=(ext,))
        await managers.update_manager(pool, manager.id, replace(base, **fields))
    await managers.set_presence(pool, manager.id, "online")
    return manager.id


async def test_unknown_caller_context_has_the_config_and_no_customer(pool: Pool, make_manager: MakeManager) -> None:
    m1 = await online(pool, make_manager, "101")
    await make_manager(extensions=("102",))  # offline, still loaded (availability is the policy's call)
    inactive = await make_manager()
    await managers.update_manager(pool, inactive.id, ManagerInput(login=inactive.login, display_name="Gone",
                                                                   active=False))
    ctx = await routing_data.load_route_context(pool, "anonymous", DID)
    assert ctx.caller is None and ctx.caller_e164 is None and ctx.did == "74950000001"
    assert [m.id for m in ctx.config.managers if m.presence == "online"] == [m1]
    assert inactive.id not in {m.id for m in ctx.config.managers}
    assert ctx.config.settings.default_queue == "sales"
    [global_schedule] = ctx.config.schedules
    assert global_schedule.did == "" and global_schedule.timezone == "Europe/Moscow"
    assert len(global_schedule.hours) == 7
    decision = decide_route(ctx, LiveState(), NOON)
    assert (decision.reason, [t.manager_id for t in decision.targets]) == ("least_loaded", [m1])
    assert decision.caller_name == "Номер скрыт"


async def test_known_vip_customer_with_urgent_and_last_orders(pool: Pool, make_manager: MakeManager) -> None:
    m1 = await online(pool, make_manager, "101")
    m2 = await online(pool, make_manager, "102")
    vip_mgr = await online(pool, make_manager, "103", vip_capable=True, seniority=9)
    cust = await customers.create_customer(pool, CustomerInput(
        name="Иванов Иван", vip=True, kind="company", region="Москва", responsible_manager_id=m1, phones=(PHONE,)))
    old = await orders.create_order(pool, OrderInput(number="9001", customer_id=cust.id, manager_id=m1), None)
    await orders.change_status(pool, old.id, "confirmed", None)  # open, not urgent
    shipped = await orders.create_order(pool, OrderInput(number="10234", customer_id=cust.id, manager_id=m2), None)
    for status in ("confirmed", "assembling", "shipped"):
        await orders.change_status(pool, shipped.id, status, None)

    ctx = await routing_data.load_route_context(pool, "8 916 123-45-67", "74950000001")
    assert ctx.caller is not None and ctx.caller_e164 == PHONE
    caller = ctx.caller
    assert (caller.customer_id, caller.vip, caller.kind, caller.region, caller.responsible_manager_id) == (
        cust.id, True, "company", "Москва", m1)
    assert [o.number for o in caller.urgent_orders] == ["10234"]
    assert caller.last_order is not None and caller.last_order.number == "10234"

    decision = decide_route(ctx, LiveState(), NOON)
    assert (decision.reason, decision.targets[0].manager_id, decision.order_id) == ("urgent_order", m2, shipped.id)
    assert decision.caller_name == "Иванов Иван · VIP · заказ 10234"
    decision = decide_route(ctx, LiveState(active_calls={m2: 1, m1: 1}), NOON)
    assert (decision.reason, decision.targets[0].manager_id) == ("vip", vip_mgr)

    await routing_data.set_urgent_statuses(pool, ["return_requested"])
    ctx = await routing_data.load_route_context(pool, PHONE, "74950000001")
    assert ctx.caller is not None and ctx.caller.urgent_orders == ()
    assert decide_route(ctx, LiveState(), NOON).reason == "responsible_manager"


async def test_config_and_caller_loaders_match_the_one_round_trip(pool: Pool, make_manager: MakeManager) -> None:
    m1 = await online(pool, make_manager, "101")
    group = await routing_data.create_group(pool, GroupInput("Сайт", "site", 25, (m1,)))
    await routing_data.create_rule(pool, RuleInput(group.id, channel="site"))
    await routing_data.save_number(pool, NumberInput(DID, "site", "Сайт"))
    cust = await customers.create_customer(pool, CustomerInput(name="Петров Пётр", phones=(PHONE,)))
    ctx = await routing_data.load_route_context(pool, PHONE, DID)
    assert await routing_data.load_routing_config(pool) == ctx.config
    assert await routing_data.load_caller(pool, PHONE) == ctx.caller
    assert await routing_data.load_caller(pool, None) is None
    cached = await routing_data.load_route_context(pool, PHONE, DID, config=ctx.config)
    assert cached == ctx
    assert ctx.caller is not None and ctx.caller.customer_id == cust.id
    assert ctx.config.managers[0].group_ids == (group.id,)
    decision = decide_route(ctx, LiveState(), NOON)
    assert (decision.reason, decision.group_id, decision.fallback, decision.ring_timeout_s) == (
        "did_rule", group.id, "queue:site", 25)


# ---- CRUD -----------------------------------------------------------------------------------------------------

async def test_groups_crud_and_validation(pool: Pool, make_manager: MakeManager) -> None:
    m1, m2 = (await make_manager()).id, (await make_manager()).id
    group = await routing_data.create_group(pool, GroupInput(" Опт  ", "b2b", 30, (m2, m1, m2)))
    assert (group.name, group.queue, group.ring_timeout_s, group.member_ids) == ("Опт", "b2b", 30, (m1, m2))
    with pytest.raises(Conflict):
        await routing_data.create_group(pool, GroupInput("Опт"))
    for bad in (GroupInput(""), GroupInput("x", queue="bad queue"), GroupInput("x", ring_timeout_s=1),
                GroupInput("x", member_ids=(999_999,))):
        with pytest.raises(InvalidInput):
            await routing_data.create_group(pool, bad)
    group = await routing_data.set_group_members(pool, group.id, [m2])
    assert group.member_ids == (m2,)
    group = await routing_data.update_group(pool, group.id, GroupInput("Опт 2", "", 20, ()))
    assert (group.name, group.member_ids) == ("Опт 2", ())
    assert [g.id for g in await routing_data.list_groups(pool)] == [group.id]
    rule = await routing_data.create_rule(pool, RuleInput(group.id))
    with pytest.raises(Conflict):
        await routing_data.delete_group(pool, group.id)
    await routing_data.delete_rule(pool, rule.id)
    await routing_data.delete_group(pool, group.id)
    with pytest.raises(NotFound):
        await routing_data.get_group(pool, group.id)
    with pytest.raises(NotFound):
        await routing_data.update_group(pool, group.id, GroupInput("x"))
    with pytest.raises(NotFound):
        await routing_data.set_group_members(pool, group.id, [])


async def test_rules_crud_order_and_validation(pool: Pool) -> None:
    group = await routing_data.create_group(pool, GroupInput("G"))
    late = await routing_data.create_rule(pool, RuleInput(group.id, position=200, did="8 495 000-00-01"))
    early = await routing_data.create_rule(pool, RuleInput(group.id, position=10, channel="app",
                                                           customer_kind="company", region=" Москва ", note="n"))
    assert late.did == "74950000001" and early.region == "Москва" and early.group_name == "G"
    assert [r.id for r in await routing_data.list_rules(pool)] == [early.id, late.id]
    for bad in (RuleInput(group.id, channel="fax"), RuleInput(group.id, customer_kind="robot"),
                RuleInput(group.id, did="abc"), RuleInput(group.id, position=10**9), RuleInput(999_999),
                RuleInput(group.id, region="x" * 101)):
        with pytest.raises(InvalidInput):
            await routing_data.create_rule(pool, bad)
    moved = await routing_data.update_rule(pool, late.id, RuleInput(group.id, position=1))
    assert (moved.position, moved.did) == (1, "")
    assert (await routing_data.list_rules(pool))[0].id == late.id
    third = await routing_data.create_rule(pool, RuleInput(group.id, position=1))  # ties with `late` on position
    assert [r.id for r in await routing_data.move_rule(pool, third.id, -1)] == [third.id, late.id, early.id]
    assert [r.position for r in await routing_data.list_rules(pool)] == [10, 20, 30]
    with pytest.raises(NotFound):
        await routing_data.update_rule(pool, 999_999, RuleInput(group.id))
    with pytest.raises(NotFound):
        await routing_data.delete_rule(pool, 999_999)


async def test_numbers_crud(pool: Pool) -> None:
    await routing_data.save_number(pool, NumberInput("+7 495 000-00-01", "site", "Сайт"))
    await routing_data.save_number(pool, NumberInput("74950000001", "landing", "Лендинг"))
    assert [(n.did, n.channel, n.label) for n in await routing_data.list_numbers(pool)] == [
        ("74950000001", "landing", "Лендинг")]
    for bad in (NumberInput("", "site"), NumberInput("74950000001", "fax"), NumberInput("call me", "site")):
        with pytest.raises(InvalidInput):
            await routing_data.save_number(pool, bad)
    await routing_data.delete_number(pool, "84950000001")
    with pytest.raises(NotFound):
        await routing_data.delete_number(pool, "84950000001")


async def test_schedules_holidays_and_validation(pool: Pool) -> None:
    [global_] = await routing_data.list_schedules(pool)
    with pytest.raises(Conflict):
        await routing_data.delete_schedule(pool, global_.id)
    with pytest.raises(Conflict):
        await routing_data.create_schedule(pool, ScheduleInput(did=""))
    night = await routing_data.create_schedule(pool, ScheduleInput(
        did="74232000000", timezone="Asia/Vladivostok", hours={1: ("20:00", "02:00"), 7: ("00:00", "24:00")},
        after_hours_target="dial:8 916 000-00-00"))
    assert night.after_hours_target == "dial:+79160000000"
    assert [(h.weekday, h.opens, h.closes, h.overnight) for h in night.hours] == [
        (1, "20:00", "02:00", True), (7, "00:00", "24:00", False)]
    bad_hours: list[dict[int, tuple[str, str]]] = [
        {8: ("09:00", "18:00")}, {1: ("9", "18")}, {1: ("09:00", "09:00")}, {1: ("24:00", "02:00")}]
    bad_targets = ["voicemail:", "x", "playback:../../secret", "dial:abc"]
    for bad in (ScheduleInput(did="1", timezone="Mars/Olympus"), ScheduleInput(did="1", timezone="../../etc/passwd"),
                *(ScheduleInput(did="1", hours=h) for h in bad_hours),
                *(ScheduleInput(did="1", after_hours_target=t) for t in bad_targets)):
        with pytest.raises(InvalidInput):
            await routing_data.create_schedule(pool, bad)
    with pytest.raises(InvalidInput):
        await routing_data.update_schedule(pool, global_.id, ScheduleInput(did="74950000001"))
    updated = await routing_data.update_schedule(pool, global_.id, ScheduleInput(hours={}, after_hours_target="hangup"))
    assert (updated.hours, updated.after_hours_target) == ((), "hangup")

    today = date.today()
    night = await routing_data.add_holiday(pool, night.id, today, "День города")
    night = await routing_data.add_holiday(pool, night.id, today, "renamed")
    await routing_data.add_holiday(pool, night.id, today - timedelta(days=30), "old")
    assert [(h.day, h.note) for h in (await routing_data.get_schedule(pool, night.id)).holidays] == [
        (today - timedelta(days=30), "old"), (today, "renamed")]
    config = await routing_data.load_routing_config(pool)
    [loaded] = [s for s in config.schedules if s.id == night.id]
    assert [h.day for h in loaded.holidays] == [today]  # long-past holidays are not loaded per call
    with pytest.raises(NotFound):
        await routing_data.add_holiday(pool, 999_999, today)
    night = await routing_data.remove_holiday(pool, night.id, today)
    assert len(night.holidays) == 1
    await routing_data.delete_schedule(pool, night.id)
    with pytest.raises(NotFound):
        await routing_data.get_schedule(pool, night.id)


async def test_settings_and_urgent_statuses(pool: Pool) -> None:
    settings = await routing_data.get_routing_settings(pool)
    assert (settings.sticky_source, settings.default_queue, settings.default_ring_timeout_s) == (
        "responsible", "sales", 20)
    settings = await routing_data.update_routing_settings(pool, RoutingSettingsInput("last_order", "main", 30))
    assert (settings.sticky_source, settings.default_queue, settings.default_ring_timeout_s) == (
        "last_order", "main", 30)
    for bad in (RoutingSettingsInput("random"), RoutingSettingsInput(default_queue=""),  # type: ignore[arg-type]
                RoutingSettingsInput(default_ring_timeout_s=301)):
        with pytest.raises(InvalidInput):
            await routing_data.update_routing_settings(pool, bad)
    assert await routing_data.get_urgent_statuses(pool) == ["new", "shipped", "return_requested"]
    assert await routing_data.set_urgent_statuses(pool, ["shipped", "confirmed"]) == ["confirmed", "shipped"]
    for bad_codes in (["completed"], ["nope"]):
        with pytest.raises(InvalidInput):
            await routing_data.set_urgent_statuses(pool, bad_codes)
    assert await routing_data.get_urgent_statuses(pool) == ["confirmed", "shipped"]


# ---- the decision on the call row -------------------------------------------------------------------------------

async def _decision(pool: Pool, make_manager: MakeManager) -> tuple[RouteDecision, int, int]:
    m1 = await online(pool, make_manager, "101")
    cust = await customers.create_customer(pool, CustomerInput(name="Иванов Иван", responsible_manager_id=m1,
                                                               phones=(PHONE,)))
    order = await orders.create_order(pool, OrderInput(number="10234", customer_id=cust.id, manager_id=m1), None)
    ctx = await routing_data.load_route_context(pool, PHONE, "74950000001")
    decision = decide_route(ctx, LiveState(), NOON)
    assert decision.reason == "urgent_order"
    return decision, cust.id, order.id


START = CallStart(linkedid="1715.1", at=NOON - timedelta(seconds=1), direction="inbound", caller="89161234567",
                  dialled="74950000001")
END = CallEnd(linkedid="1715.1", at=NOON + timedelta(seconds=60), direction="inbound", outcome="answered", reason="",
              answered_by="101", operator="101", customer_number="89161234567", hung_up_by="customer",
              hung_up_by_extension=None, ring_s=5, talk_s=50)


async def _check_both_kept(pool: Pool, customer_id: int, order_id: int) -> None:
    call = await calls.get_call(pool, "1715.1")
    assert call is not None
    assert (call.direction, call.caller, call.did, call.started_at) == ("inbound", "89161234567", "74950000001",
                                                                        START.at)
    assert (call.customer_id, call.customer_e164, call.order_id) == (customer_id, PHONE, order_id)
    assert (call.outcome, call.operator_extension, call.talk_s) == ("answered", "101", 50)
    record = await routing_data.get_route_decision(pool, "1715.1")
    assert record is not None
    assert (record.reason, record.targets, record.fallback, record.routed_at) == (
        "urgent_order", "101", "queue:sales", NOON)
    assert record.manager_name is not None and "10234" in record.explanation


async def test_decision_first_then_the_recorders_facts(pool: Pool, make_manager: MakeManager) -> None:
    decision, customer_id, order_id = await _decision(pool, make_manager)
    await routing_data.record_route_decision(pool, "1715.1", decision, at=NOON, caller_number="+79161234567",
                                             did="74950000001")
    placeholder = await calls.get_call(pool, "1715.1")
    assert placeholder is not None and (placeholder.direction, placeholder.customer_id) == ("inbound", customer_id)
    await calls.record_call_started(pool, START)
    await calls.record_call_ended(pool, END)
    await _check_both_kept(pool, customer_id, order_id)


async def test_facts_first_then_the_decision(pool: Pool, make_manager: MakeManager) -> None:
    decision, customer_id, order_id = await _decision(pool, make_manager)
    # Another open order created later: the recorder's own guess would be this one; routing's urgent one wins.
    await orders.create_order(pool, OrderInput(number="20000", customer_id=customer_id), None)
    await calls.record_call_started(pool, START)
    await calls.record_call_ended(pool, END)
    await routing_data.record_route_decision(pool, "1715.1", decision, at=NOON, caller_number="junk", did="1")
    await _check_both_kept(pool, customer_id, order_id)


async def test_unknown_caller_decision_leaves_the_contact_to_the_recorder(pool: Pool,
                                                                          make_manager: MakeManager) -> None:
    ctx = await routing_data.load_route_context(pool, "+79167654321", "74950000001")
    decision = decide_route(ctx, LiveState(), NOON)
    await routing_data.record_route_decision(pool, "9.1", decision, at=NOON, dial="")
    await calls.record_call_started(pool, CallStart(linkedid="9.1", at=NOON, direction="inbound",
                                                    caller="+79167654321", dialled="74950000001"))
    call = await calls.get_call(pool, "9.1")
    assert call is not None and call.customer_id is not None and call.customer_name is not None
    assert call.customer_name.startswith("Новый клиент")
    record = await routing_data.get_route_decision(pool, "9.1")
    assert record is not None and (record.reason, record.targets, record.manager_id) == ("default_queue", "", None)
    assert await routing_data.get_route_decision(pool, "nope") is None


async def test_decision_text_is_cleaned(pool: Pool, make_manager: MakeManager) -> None:
    decision, _, _ = await _decision(pool, make_manager)
    hostile = type(decision)(**{**decision.__dict__, "explanation": "a\x00b\nc", "fallback": "queue:\x00x"})
    await routing_data.record_route_decision(pool, "\x001.2", hostile, at=NOON, caller_number="\x00+7916")
    record = await routing_data.get_route_decision(pool, "1.2")
    assert record is not None and (record.explanation, record.fallback) == ("ab\nc", "queue:x")

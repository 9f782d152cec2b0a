"""The routing policy as pure unit tests: every step, every tie-break, the hours edges and the phone display name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from crm.models import DayHours, Holiday, RoutingGroup, RoutingNumber, RoutingRule, RoutingSchedule, RoutingSettings
from crm.routing.hours import is_open, parse_hhmm, schedule_for
from crm.routing.policy import (
    CallerInfo,
    CallerOrder,
    LiveState,
    ManagerCandidate,
    RouteContext,
    RoutingConfig,
    caller_display_name,
    decide_route,
    match_rule,
    normalize_did,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Wednesday 2024-05-15 12:00 in Moscow (UTC+3).
NOON = datetime(2024, 5, 15, 9, 0, tzinfo=UTC)
SETTINGS = RoutingSettings("responsible", "sales", 20)
ALL_DAY = tuple(DayHours(d, 0, 1440) for d in range(1, 8))


def hours(opens: str, closes: str, days: range = range(1, 8)) -> tuple[DayHours, ...]:
    o, c = parse_hhmm(opens), parse_hhmm(closes)
    assert o is not None and c is not None
    return tuple(DayHours(d, o, c) for d in days)


def schedule(did: str = "", tz: str = "Europe/Moscow", week: tuple[DayHours, ...] = ALL_DAY,
             target: str = "voicemail:general", holidays: tuple[date, ...] = (), sid: int = 1) -> RoutingSchedule:
    return RoutingSchedule(sid, did, tz, week, target, tuple(Holiday(d, "") for d in holidays))


def mgr(mid: int, *, presence: str = "online", ext: tuple[str, ...] | None = None, vip: bool = False,
        seniority: int = 0, cap: int = 1, role: str = "operator", idle_minutes: int = 0,
        softphone: bool = False) -> ManagerCandidate:
    return ManagerCandidate(
        id=mid, display_name=f"M{mid}", role=role,  # type: ignore[arg-type]
        extensions=(str(100 + mid),) if ext is None else ext, softphone=softphone, vip_capable=vip,
        seniority=seniority, max_concurrent_calls=cap, presence=presence,
        presence_changed_at=T0 + timedelta(minutes=idle_minutes))


def customer(*, responsible: int | None = None, vip: bool = False, kind: str = "person", region: str = "",
             urgent: tuple[CallerOrder, ...] = (), last: CallerOrder | None = None,
             name: str = "Иванов Иван Петрович") -> CallerInfo:
    return CallerInfo(customer_id=7, name=name, kind=kind, vip=vip, region=region,  # type: ignore[arg-type]
                      responsible_manager_id=responsible, last_order=last, urgent_orders=urgent)


def ctx(managers: tuple[ManagerCandidate, ...] = (), caller: CallerInfo | None = None, *, did: str = "74950000000",
        rules: tuple[RoutingRule, ...] = (), groups: tuple[RoutingGroup, ...] = (),
        schedules: tuple[RoutingSchedule, ...] = (), numbers: tuple[RoutingNumber, ...] = (),
        settings: RoutingSettings = SETTINGS) -> RouteContext:
    config = RoutingConfig(settings, managers, groups, rules, schedules, numbers)
    return RouteContext(config, caller, did, "+79161234567", "+79161234567")


def rule(rid: int, group_id: int, *, position: int = 100, did: str = "", channel: str = "", kind: str = "",
         region: str = "") -> RoutingRule:
    return RoutingRule(rid, position, did, channel, kind, region, group_id, f"G{group_id}", "")


def ids(decision: object) -> list[int]:
    return [t.manager_id for t in decision.targets]  # type: ignore[attr-defined]


# ---- 1. working hours ------------------------------------------------------------------------------------------

def test_after_hours_goes_to_the_after_hours_target_with_the_customer_still_known() -> None:
    night = datetime(2024, 5, 15, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    c = ctx((mgr(1),), customer(responsible=1), schedules=(schedule(week=hours("09:00", "21:00"),
                                                                     target="dial:+79160000000"),))
    d = decide_route(c, LiveState(), night)
    assert (d.reason, d.targets, d.fallback, d.customer_id) == ("after_hours", (), "dial:+79160000000", 7)
    assert d.after_hours and "переадресация на +7 916 000-00-00" in d.explanation
    assert "dial:" not in d.explanation
    assert decide_route(c, LiveState(), NOON).reason == "responsible_manager"


def test_the_did_schedule_wins_over_the_global_one_and_uses_its_own_time_zone() -> None:
    global_ = schedule(week=hours("09:00", "18:00"), sid=1)
    # Vladivostok (UTC+10): 09:00 UTC is 19:00 there, after its 18:00 close; Moscow is at 12:00.
    far = schedule(did="74232000000", tz="Asia/Vladivostok", week=hours("09:00", "18:00"), target="hangup", sid=2)
    assert schedule_for((global_, far), "74232000000") is far
    assert schedule_for((global_, far), "74950000000") is global_
    d = decide_route(ctx((mgr(1),), did="74232000000", schedules=(global_, far)), LiveState(), NOON)
    assert (d.reason, d.fallback) == ("after_hours", "hangup")
    assert decide_route(ctx((mgr(1),), schedules=(global_, far)), LiveState(), NOON).reason == "least_loaded"


def test_no_schedule_at_all_is_always_open() -> None:
    d = decide_route(ctx((mgr(1),)), LiveState(), datetime(2024, 5, 15, 23, 59, tzinfo=UTC))
    assert d.reason == "least_loaded"


@pytest.mark.parametrize(("local", "expected"), [
    ("2024-05-15 08:59", False), ("2024-05-15 09:00", True), ("2024-05-15 20:59", True), ("2024-05-15 21:00", False),
])
def test_opening_minute_is_in_and_closing_minute_is_out(local: str, expected: bool) -> None:
    at = datetime.fromisoformat(local + "+03:00")
    assert is_open(schedule(week=hours("09:00", "21:00")), at) is expected


@pytest.mark.parametrize(("local", "expected"), [
    ("2024-05-15 19:59", False), ("2024-05-15 20:00", True), ("2024-05-15 23:59", True),
    ("2024-05-16 00:00", True), ("2024-05-16 01:59", True), ("2024-05-16 02:00", False),
])
def test_a_night_shift_runs_past_midnight(local: str, expected: bool) -> None:
    week = hours("20:00", "02:00", range(3, 4))  # Wednesdays only: Wed 20:00 -> Thu 02:00
    assert is_open(schedule(week=week), datetime.fromisoformat(local + "+03:00")) is expected


def test_holiday_closes_the_shift_starting_that_day_but_not_last_nights_spill() -> None:
    night = schedule(week=hours("20:00", "02:00"), holidays=(date(2024, 5, 16),))
    assert is_open(night, datetime.fromisoformat("2024-05-16 01:00+03:00"))  # Wednesday's shift
    assert not is_open(night, datetime.fromisoformat("2024-05-16 21:00+03:00"))  # the holiday's own shift
    assert not is_open(night, datetime.fromisoformat("2024-05-17 01:00+03:00"))  # ... and its spill
    day = schedule(holidays=(date(2024, 5, 15),))
    d = decide_route(ctx((mgr(1),), schedules=(day,)), LiveState(), NOON)
    assert d.reason == "after_hours"


def test_holidays_are_dates_in_the_schedules_zone_not_utc() -> None:
    # 2024-05-15 22:30 UTC is already 2024-05-16 07:30 in Vladivostok.
    vl = schedule(tz="Asia/Vladivostok", week=hours("00:00", "24:00"), holidays=(date(2024, 5, 16),))
    assert not is_open(vl, datetime(2024, 5, 15, 22, 30, tzinfo=UTC))
    assert is_open(vl, datetime(2024, 5, 15, 13, 0, tzinfo=UTC))


def test_closed_weekday_and_24h_day() -> None:
    week = hours("00:00", "24:00", range(1, 6))  # Monday-Friday round the clock, weekend closed
    assert is_open(schedule(week=week), datetime.fromisoformat("2024-05-17 23:59+03:00"))  # Friday
    assert not is_open(schedule(week=week), datetime.fromisoformat("2024-05-18 00:00+03:00"))  # Saturday


# ---- 2. urgent orders ------------------------------------------------------------------------------------------

def test_urgent_order_goes_to_its_manager_with_the_order_in_the_name() -> None:
    order = CallerOrder(55, "10234", 2, "shipped")
    c = ctx((mgr(1), mgr(2)), customer(responsible=1, urgent=(order,)))
    d = decide_route(c, LiveState(), NOON)
    assert (d.reason, ids(d), d.order_id, d.order_number) == ("urgent_order", [2], 55, "10234")
    assert d.caller_name == "Иванов И. · заказ 10234"
    assert "10234" in d.explanation


def test_urgent_order_manager_busy_falls_to_the_next_urgent_order_then_to_sticky() -> None:
    first, second = CallerOrder(55, "A-1", 2, "new"), CallerOrder(56, "A-2", 3, "shipped")
    c = ctx((mgr(1), mgr(2), mgr(3)), customer(responsible=1, urgent=(first, second)))
    d = decide_route(c, LiveState(active_calls={2: 1}), NOON)
    assert (d.reason, ids(d), d.order_number) == ("urgent_order", [3], "A-2")
    d = decide_route(c, LiveState(active_calls={2: 1, 3: 1}), NOON)
    assert (d.reason, ids(d)) == ("responsible_manager", [1])
    # The call is still about the most recent urgent order: the phone shows it.
    assert (d.order_number, d.caller_name) == ("A-1", "Иванов И. · заказ A-1")


def test_urgent_order_without_a_manager_is_skipped() -> None:
    c = ctx((mgr(1),), customer(responsible=1, urgent=(CallerOrder(55, "X", None, "new"),)))
    assert decide_route(c, LiveState(), NOON).reason == "responsible_manager"


# ---- 3. sticky -------------------------------------------------------------------------------------------------

def test_responsible_manager_online_gets_the_call_over_a_less_loaded_one() -> None:
    c = ctx((mgr(1, cap=3), mgr(2)), customer(responsible=1))
    d = decide_route(c, LiveState(active_calls={1: 2}), NOON)
    assert (d.reason, ids(d), d.customer_id) == ("responsible_manager", [1], 7)
    assert d.targets[0].extensions == ("101",)


@pytest.mark.parametrize(("manager", "live", "why"), [
    (mgr(1, presence="away"), LiveState(), "отошёл"),
    (mgr(1, presence="offline"), LiveState(), "не в сети"),
    (mgr(1), LiveState(active_calls={1: 1}), "1 из 1"),
    (mgr(1), LiveState(unregistered=frozenset({"101"})), "не зарегистрирован"),
    (mgr(1, ext=()), LiveState(), "не зарегистрирован"),
])
def test_responsible_manager_unavailable_falls_through(manager: ManagerCandidate, live: LiveState, why: str) -> None:
    c = ctx((manager, mgr(2)), customer(responsible=1))
    d = decide_route(c, live, NOON)
    assert (d.reason, ids(d)) == ("least_loaded", [2])
    assert why in d.explanation


def test_responsible_manager_not_loaded_means_inactive() -> None:
    d = decide_route(ctx((mgr(2),), customer(responsible=1)), LiveState(), NOON)
    assert (d.reason, ids(d)) == ("least_loaded", [2])
    assert "нет среди активных" in d.explanation and "#1" not in d.explanation


def test_a_manager_with_one_of_two_phones_unregistered_is_rung_on_the_other() -> None:
    c = ctx((mgr(1, ext=("101", "201")),), customer(responsible=1))
    d = decide_route(c, LiveState(unregistered=frozenset({"101"})), NOON)
    assert d.targets[0].extensions == ("201",)


def test_softphone_manager_whose_desk_phone_is_off_is_reachable_on_the_softphone() -> None:
    c = ctx((mgr(1, ext=("101", "201"), softphone=True),), customer(responsible=1))
    d = decide_route(c, LiveState(unregistered=frozenset({"101", "201"})), NOON)
    target = d.targets[0]
    assert (d.reason, target.extensions, target.softphone_extension) == ("responsible_manager", (), "101")


def test_softphone_needs_an_extension_to_answer_as() -> None:
    """The softphone rings as the manager's first extension (the call record names it); without one it cannot."""
    c = ctx((mgr(1, ext=(), softphone=True),), customer(responsible=1))
    d = decide_route(c, LiveState(), NOON)
    assert d.targets == () and d.reason != "responsible_manager"


def test_last_order_setting_uses_the_latest_orders_manager_else_the_responsible_one() -> None:
    last = CallerOrder(9, "L-9", 2, "completed")
    settings = replace(SETTINGS, sticky_source="last_order")
    d = decide_route(ctx((mgr(1), mgr(2)), customer(responsible=1, last=last), settings=settings), LiveState(), NOON)
    assert (d.reason, ids(d)) == ("responsible_manager", [2])
    d = decide_route(ctx((mgr(1), mgr(2)), customer(responsible=1, last=last)), LiveState(), NOON)
    assert ids(d) == [1]  # setting 'responsible' ignores the order
    d = decide_route(ctx((mgr(1), mgr(2)), customer(responsible=1), settings=settings), LiveState(), NOON)
    assert ids(d) == [1]  # no managed order: the responsible one


# ---- 4. VIP ----------------------------------------------------------------------------------------------------

def test_vip_goes_to_the_most_senior_available_vip_manager() -> None:
    managers = (mgr(1, presence="away"), mgr(2, vip=True, seniority=5), mgr(3, vip=True, seniority=9),
                mgr(4, vip=True, seniority=10, presence="offline"), mgr(5, seniority=50))
    d = decide_route(ctx(managers, customer(responsible=1, vip=True)), LiveState(), NOON)
    assert (d.reason, ids(d)) == ("vip", [3])
    assert d.caller_name == "Иванов И. · VIP"
    d = decide_route(ctx(managers, customer(responsible=1, vip=True)), LiveState(active_calls={3: 1}), NOON)
    assert ids(d) == [2]


def test_vip_equal_seniority_breaks_ties_by_load_then_idle_time() -> None:
    managers = (mgr(2, vip=True, seniority=5, cap=2, idle_minutes=1), mgr(3, vip=True, seniority=5, cap=2,
                                                                           idle_minutes=5))
    live = LiveState(active_calls={2: 1})
    assert ids(decide_route(ctx(managers, customer(vip=True)), live, NOON)) == [3]
    assert ids(decide_route(ctx(managers, customer(vip=True)), LiveState(), NOON)) == [2]  # idle longer


def test_vip_with_responsible_available_stays_with_the_responsible_one() -> None:
    managers = (mgr(1), mgr(3, vip=True, seniority=9))
    d = decide_route(ctx(managers, customer(responsible=1, vip=True)), LiveState(), NOON)
    assert (d.reason, ids(d)) == ("responsible_manager", [1])


def test_no_vip_manager_free_falls_to_rules() -> None:
    d = decide_route(ctx((mgr(1), mgr(3, vip=True, presence="away")), customer(vip=True)), LiveState(), NOON)
    assert (d.reason, ids(d)) == ("least_loaded", [1])


# ---- 5. rules --------------------------------------------------------------------------------------------------

GROUPS = (RoutingGroup(10, "site", "site_q", 25, (1,)), RoutingGroup(20, "b2b", "b2b_q", 30, (2,)),
          RoutingGroup(30, "spb", "", 15, (3,)))
NUMBERS = (RoutingNumber("74950000001", "site", ""), RoutingNumber("74950000002", "app", ""))


def test_rules_match_on_did_channel_kind_and_region_in_position_order() -> None:
    rules = (rule(1, 30, position=50, region="Санкт-Петербург"), rule(2, 20, position=60, kind="company"),
             rule(3, 10, position=70, channel="site"), rule(4, 20, position=80, did="74950000002"))
    config = ctx(rules=rules, groups=GROUPS, numbers=NUMBERS).config
    person = customer()
    assert match_rule(config, "74950000001", person) == rules[2]  # by the number's channel
    assert match_rule(config, "74950000002", person) == rules[3]  # by the dialled number
    assert match_rule(config, "74950000002", customer(kind="company")) == rules[1]
    assert match_rule(config, "74950000002", customer(kind="company", region=" санкт-петербург ")) == rules[0]
    assert match_rule(config, "74959999999", None) is None  # unknown caller: kind/region rules do not match
    # Position decides, not id.
    reordered = (replace(rules[2], position=10),) + rules[:2] + rules[3:]
    assert match_rule(replace(config, rules=reordered), "74950000001", customer(kind="company")) == reordered[0]


def test_a_rule_routes_to_the_least_loaded_member_of_its_group_with_its_timeout_and_queue() -> None:
    groups = (RoutingGroup(10, "site", "site_q", 25, (1, 2)),)
    c = ctx((mgr(1, cap=2), mgr(2, cap=2), mgr(3)), customer(), did="74950000001", rules=(rule(1, 10, channel="site"),),
            groups=groups, numbers=NUMBERS)
    d = decide_route(c, LiveState(active_calls={1: 1}), NOON)
    assert (d.reason, ids(d), d.ring_timeout_s, d.fallback, d.group_id) == ("did_rule", [2], 25, "queue:site_q", 10)


def test_a_ring_all_group_rings_every_free_member_at_once_least_loaded_first() -> None:
    groups = (RoutingGroup(10, "site", "site_q", 25, (1, 2, 3), ring_all=True),)
    c = ctx((mgr(1, cap=2), mgr(2, cap=2), mgr(3, presence="away")), customer(), did="74950000001",
            rules=(rule(1, 10, channel="site"),), groups=groups, numbers=NUMBERS)
    d = decide_route(c, LiveState(active_calls={1: 1}), NOON)
    assert (d.reason, ids(d), d.fallback) == ("did_rule", [2, 1], "queue:site_q")
    assert "всем свободным сразу" in d.explanation


def test_rule_group_with_nobody_free_goes_to_its_queue() -> None:
    c = ctx((mgr(1, presence="away"), mgr(2)), None, did="74950000001", rules=(rule(1, 10, channel="site"),),
            groups=GROUPS, numbers=NUMBERS)
    d = decide_route(c, LiveState(), NOON)
    assert (d.reason, d.targets, d.fallback) == ("queue", (), "queue:site_q")
    assert d.caller_name == "+7 916 123-45-67"


def test_rule_group_without_a_queue_falls_to_the_default_queue() -> None:
    c = ctx((mgr(3, presence="away"),), customer(region="Санкт-Петербург"),
            rules=(rule(1, 30, region="санкт-петербург"),), groups=GROUPS)
    d = decide_route(c, LiveState(), NOON)
    assert (d.reason, d.fallback, d.ring_timeout_s) == ("default_queue", "queue:sales", 15)


# ---- 6. least loaded, queue, default ---------------------------------------------------------------------------

def test_least_loaded_then_longest_idle_then_lowest_id() -> None:
    managers = (mgr(1, cap=3, idle_minutes=0), mgr(2, cap=3, idle_minutes=10), mgr(3, cap=3, idle_minutes=10),
                mgr(4, role="supervisor"))
    assert ids(decide_route(ctx(managers), LiveState(active_calls={1: 1}), NOON)) == [2]
    assert ids(decide_route(ctx(managers), LiveState(active_calls={1: 3, 2: 3, 3: 3}), NOON)) == []  # not supervisors
    # Idle time counts from the later of presence change and last call end.
    live = LiveState(active_calls={1: 1}, last_call_end={2: T0 + timedelta(minutes=30)})
    assert ids(decide_route(ctx(managers), live, NOON)) == [3]
    assert ids(decide_route(ctx(managers), LiveState(), NOON)) == [1]  # nobody busy: idle since T0


def test_nothing_at_all_goes_to_the_default_queue() -> None:
    d = decide_route(ctx(), LiveState(), NOON)
    assert (d.reason, d.targets, d.fallback, d.ring_timeout_s, d.customer_id) == ("default_queue", (), "queue:sales",
                                                                                  20, None)
    assert d.explanation


def test_explanation_is_localised() -> None:
    d = decide_route(ctx((mgr(1),)), LiveState(), NOON, locale="en")
    assert "M1 is the least busy" in d.explanation and "No routing rule matched" in d.explanation


# ---- caller display name ----------------------------------------------------------------------------------------

def test_caller_name_shapes() -> None:
    order = "10234"
    assert caller_display_name(customer(vip=True), "", None, order_number=order) == "Иванов И. · VIP · заказ 10234"
    assert caller_display_name(customer(name="ООО «Ромашка»", kind="company"), "", None) == "ООО Ромашка"
    assert caller_display_name(customer(name="Пётр"), "", None) == "Пётр"
    assert caller_display_name(None, "+79161234567", "+79161234567") == "+7 916 123-45-67"
    assert caller_display_name(None, "anonymous", None) == "Номер скрыт"
    assert caller_display_name(None, "", None) == "Номер скрыт"
    assert caller_display_name(None, "0042", None) == "0042"
    new_contact = customer(name="Новый клиент +7 916 123-45-67")
    assert caller_display_name(new_contact, "+79161234567", "+79161234567") == "+7 916 123-45-67"


@pytest.mark.parametrize("hostile", [
    '<script>alert("x")</script>Иванов Иван', 'Иванов\x00\x1b[31m Иван"\\', "Иванов\u202e Иван\r\nSET VARIABLE",
    "\"; EXEC\nИванов", "💣" * 50, "A" * 500,
])
def test_hostile_names_come_out_short_and_clean(hostile: str) -> None:
    name = caller_display_name(customer(name=hostile, vip=True), "", None, order_number='12"<b>34\n')
    assert len(name) <= 40
    assert not any(ch in name for ch in '<>"\\\x00\x1b\r\n\u202e;')
    assert name.endswith(" · VIP · заказ 12 34")


def test_long_names_keep_the_markers() -> None:
    name = caller_display_name(customer(name="ООО " + "Очень длинное название " * 5, kind="company", vip=True), "",
                               None, order_number="ORDER-123456789")
    assert len(name) <= 40 and name.endswith(" · VIP · заказ ORDER-123456789")


def test_normalize_did() -> None:
    assert normalize_did("+7 (495) 123-45-67") == normalize_did("84951234567") == "74951234567"
    assert normalize_did("100") == "100"
    assert normalize_did("") == ""


def test_the_explanation_reads_as_sentences_without_raw_identifiers() -> None:
    """«Почему сюда»: local times, status titles, phones as written; never `return_requested`, `*`, `#7`,
    ISO timestamps or `PJSIP/102`."""
    order = CallerOrder(5, "10234", 9, "return_requested", ("Запрошен возврат", "Return requested"))
    group = RoutingGroup(id=3, name="Возвраты", queue="returns", ring_timeout_s=20, member_ids=(1, 2))
    cases = [
        ctx((mgr(1), mgr(2)), customer(urgent=(order,)), rules=(rule(4, 3, did="74950000000"),), groups=(group,),
            schedules=(schedule(),)),
        ctx((mgr(1, presence="away"),), customer(responsible=1), schedules=(schedule(did="74950000000"),)),
        ctx((mgr(1),), None, rules=(rule(4, 3, channel="landing", kind="company"),), groups=(group,),
            numbers=(RoutingNumber("74950000000", "landing", ""),)),
    ]
    texts = [decide_route(c, LiveState(), NOON).explanation for c in cases]
    assert "Запрошен возврат" in texts[0] and "+7 495 000-00-00" in texts[0]
    assert "12:00" in texts[2] or "свободен с" in texts[2]
    for text in texts:
        for raw in ("return_requested", "*", "#", "PJSIP/", "T0", "+00:00", "landing»", "company"):
            assert raw not in text, (raw, text)

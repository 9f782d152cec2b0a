"""Demo data loads once through the real rules and looks like a real shop; migrations apply once and are a
no-op after that."""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from crm import database, managers, order_list, orders
from crm.database import Pool
from crm.demo.plan import Staff, plan_demo
from crm.demo_data import DEMO_PASSWORD, SHOP_NUMBERS, WORKING_HOURS, load_demo_data
from crm.models import DayHours, Holiday, RoutingSchedule
from crm.routing import data as routing_data
from crm.routing.hours import is_open, parse_hhmm
from pbx_bridge.simulator.settings import SimulatorSettings
from tests.conftest import PgServer

TABLES = ("managers", "manager_extensions", "customers", "customer_phones", "orders", "order_status_history",
          "tasks", "notes")


async def _counts(pool: Pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def test_demo_data_loads_once(pool: Pool) -> None:
    result = await load_demo_data(pool, customers=30)
    assert result.created
    roles = {role for _, role, _ in result.logins}
    assert roles == {"operator", "supervisor", "admin"}
    staff = await managers.list_managers(pool)
    assert {m.role for m in staff} == roles and len(staff) == len(result.logins)
    for login, role, name in result.logins:
        signed_in = await managers.authenticate(pool, login, DEMO_PASSWORD)
        assert signed_in is not None and signed_in.role == role and signed_in.display_name == name

    counts = await _counts(pool)
    assert counts["customers"] == 30
    assert counts["customer_phones"] >= 30
    assert counts["orders"] > 0 and counts["tasks"] > 0
    assert await pool.fetchval("SELECT count(*) FROM customers c WHERE NOT EXISTS "
                               "(SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id)") == 0
    assert all(e164.startswith("+79") and len(e164) == 12
               for e164 in [r["e164"] for r in await pool.fetch("SELECT e164 FROM customer_phones")])
    statuses = {r["status"] for r in await pool.fetch("SELECT DISTINCT status FROM orders")}
    assert len(statuses) >= 3
    # Every order reached its status through the workflow: one history row per step, ending in it.
    mismatched = await pool.fetchval(
        """SELECT count(*) FROM orders o WHERE o.status <> (SELECT h.to_status FROM order_status_history h
           WHERE h.order_id = o.id ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)""")
    assert mismatched == 0
    assert await pool.fetchval("SELECT count(*) FROM order_status_history WHERE from_status IS NULL") == \
        counts["orders"]
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE created_by_id IS NOT NULL") == 0

    # Loaded now, by the clock: the tasks still fall due in working hours.
    await _assert_tasks_in_working_hours(pool, datetime.now(UTC))

    again = await load_demo_data(pool, customers=30)
    assert not again.created and again.logins == result.logins
    assert await _counts(pool) == counts


#: A Saturday night in Moscow (23:40 on 14 March 2026): tasks must still fall due in working hours.
SATURDAY_NIGHT = datetime(2026, 3, 14, 20, 40, tzinfo=UTC)
PERSON_NAME = re.compile(r"^[А-ЯЁ][а-яё]+(-[А-ЯЁ][а-яё]+)? [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+(вич|вна|ич|чна|на)$")


async def _assert_tasks_in_working_hours(pool: Pool, now: datetime) -> None:
    """Every task is due inside the global schedule's hours in the shop's zone; some overdue, some today."""
    schedule = next(s for s in await routing_data.list_schedules(pool) if s.did == "")
    zone = ZoneInfo(schedule.timezone)
    rows = await pool.fetch("SELECT due_at, status FROM tasks")
    assert rows and all(r["due_at"] is not None and is_open(schedule, r["due_at"]) for r in rows), \
        [r["due_at"].astimezone(zone) for r in rows if not is_open(schedule, r["due_at"])]
    open_due = [r["due_at"] for r in rows if r["status"] == "open"]
    assert any(due < now for due in open_due), "no overdue task"
    assert any(due.astimezone(zone).date() == now.astimezone(zone).date() for due in open_due), "no task today"


async def test_demo_shop_looks_real(pool: Pool) -> None:
    """Loaded on a Saturday night: real names and phones, orders through the workflow, tasks in working hours."""
    assert (await load_demo_data(pool, customers=80, now=SATURDAY_NIGHT)).created
    staff = {m.login: m for m in await managers.list_managers(pool)}

    customers = await pool.fetch("SELECT * FROM customers ORDER BY id")
    names = [c["name"] for c in customers]
    assert not [n for n in names if re.search(r"[#№0-9]|Клиент|Customer", n)], names
    assert len(set(names)) == len(names)
    people = [c["name"] for c in customers if c["kind"] == "person"]
    assert people and all(PERSON_NAME.match(n) for n in people), [n for n in people if not PERSON_NAME.match(n)]
    companies = [c for c in customers if c["kind"] == "company"]
    assert companies and all(c["name"].startswith(("ООО «", "АО «", "ИП ")) and "@" in c["email"] for c in companies)
    assert {"Москва", "Санкт-Петербург"} <= {c["region"] for c in customers}
    assert 0 < sum(c["vip"] for c in customers) < len(customers) // 4
    responsible = {c["responsible_manager_id"] for c in customers} - {None}
    assert {staff[login].id for login in ("anna", "boris", "vera", "gleb")} <= responsible
    assert staff["admin"].id not in responsible
    phones = [r["e164"] for r in await pool.fetch("SELECT e164 FROM customer_phones")]
    assert all(re.fullmatch(r"\+79[0-9]{9}", p) for p in phones) and len(set(p[2:5] for p in phones)) > 10

    rows = await pool.fetch("SELECT o.*, s.time_limit, s.is_final FROM orders o JOIN order_statuses s "
                            "ON s.code = o.status ORDER BY o.created_at, o.id")
    numbers = [int(r["number"]) for r in rows]
    assert numbers[0] == 10234 and numbers == sorted(numbers)  # numbered as they came in
    assert all(r["created_at"] < SATURDAY_NIGHT and r["status_changed_at"] <= SATURDAY_NIGHT for r in rows)
    assert len({r["status"] for r in rows}) >= 6 and len({r["channel"] for r in rows}) >= 4
    assert all(r["manager_id"] is not None and r["currency"] == "RUB" and r["total"] > 0 for r in rows)
    catalog_names = {item["name"] for r in rows for item in r["items"]}
    assert len(catalog_names) > 10 and not [n for n in catalog_names if "#" in n or "SKU" in n]
    # Some open orders have stayed in their status longer than its time limit, as the orders list counts them.
    overdue = await order_list.list_orders(pool, staff["head"], order_list.OrderFilter(overdue=True), limit=200)
    assert overdue.items
    assert any(not r["is_final"] and r["time_limit"] and SATURDAY_NIGHT - r["status_changed_at"] < r["time_limit"]
               for r in rows), "every open order is late"
    # Each order's history walks the workflow in time order and ends in its status.
    workflow = await orders.load_workflow(pool)
    for r in rows:
        history = await orders.status_history(pool, r["id"])
        moves = [(a.to_status, b.to_status) for a, b in zip(history, history[1:], strict=False)]
        assert history[0].from_status is None and history[-1].to_status == r["status"]
        assert all(move in workflow.transitions for move in moves)
        assert [h.changed_at for h in history] == sorted(h.changed_at for h in history)
        assert history[0].changed_at == r["created_at"] and history[-1].changed_at == r["status_changed_at"]
    assigned = await pool.fetchval("SELECT count(*) FROM order_assignments")
    assert assigned > 0  # orders from the site without a manager went through the order distribution

    await _assert_tasks_in_working_hours(pool, SATURDAY_NIGHT)
    titles = [r["title"] for r in await pool.fetch("SELECT title FROM tasks")]
    assert len(set(titles)) > 5 and not [t for t in titles if "#" in t]
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE order_id IS NOT NULL") > 0
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE status = 'done' AND closed_at <= $1",
                               SATURDAY_NIGHT) > 0
    assert await pool.fetchval("SELECT count(*) FROM notes n JOIN customers c ON c.id = n.customer_id "
                               "WHERE n.author_id IS NOT NULL AND n.created_at > c.created_at") > 0


async def test_demo_routing_example(pool: Pool) -> None:
    """Groups with members (one ringing all), the shop's numbers as the simulator dials them, rules by number,
    channel and customer type, working hours with a holiday to come."""
    await load_demo_data(pool, customers=5, now=SATURDAY_NIGHT, timezone="Europe/Moscow")
    staff = {m.id: m for m in await managers.list_managers(pool)}
    groups = {g.name: g for g in await routing_data.list_groups(pool)}
    assert {staff[m].login for m in groups["Продажи"].member_ids} == {"anna", "boris", "vera", "gleb"}
    assert {staff[m].login for m in groups["VIP"].member_ids} == {"head", "anna"} and groups["VIP"].ring_all
    assert all(g.member_ids for g in groups.values())
    numbers = {n.did: n.channel for n in await routing_data.list_numbers(pool)}
    assert numbers == {"74951234501": "site", "74951234502": "landing", "74951234503": "other"}
    assert set(SimulatorSettings().did_list) == set(numbers) == {n.did for n in SHOP_NUMBERS}
    rules = await routing_data.list_rules(pool)
    by_did = [r for r in rules if r.did]
    assert by_did and all(r.did in numbers for r in by_did) and by_did[0].group_id == groups["VIP"].id
    assert any(r.channel == "site" and r.group_id == groups["Продажи"].id for r in rules)
    assert any(r.customer_kind == "company" for r in rules)
    schedule = next(s for s in await routing_data.list_schedules(pool) if s.did == "")
    assert schedule.timezone == "Europe/Moscow"
    assert {h.weekday: (h.opens, h.closes) for h in schedule.hours} == WORKING_HOURS
    assert schedule.holidays and all(h.day > date(2026, 3, 14) for h in schedule.holidays)
    assert [h.day for h in schedule.holidays][0] == date(2026, 5, 1)
    # Saturday 23:40 in Moscow is after hours; Monday 10:00 is open.
    assert not is_open(schedule, SATURDAY_NIGHT)
    assert is_open(schedule, datetime(2026, 3, 16, 7, 0, tzinfo=UTC))


async def test_demo_plan_puts_tasks_in_working_hours_at_every_hour_of_a_week(pool: Pool) -> None:
    """The pure plan, planned at each hour of a week (with a holiday tomorrow): every task is due when open."""
    workflow = await orders.load_workflow(pool)
    hours = tuple(DayHours(day, parse_hhmm(a) or 0, parse_hhmm(b) or 0) for day, (a, b) in WORKING_HOURS.items())
    start = datetime(2026, 6, 8, 0, 30, tzinfo=ZoneInfo("Europe/Moscow"))  # a Monday
    staff = Staff(operators=("anna", "boris", "vera", "gleb"), seniors=("head", "anna"))
    for hour in range(7 * 24):
        now = (start + timedelta(hours=hour)).astimezone(UTC)
        tomorrow = (now.astimezone(ZoneInfo("Europe/Moscow")) + timedelta(days=1)).date()
        schedule = RoutingSchedule(1, "", "Europe/Moscow", hours, "voicemail:general",
                                   (Holiday(tomorrow, "праздник"),))
        plan = plan_demo(random.Random(hour), customers=40, now=now, schedule=schedule, workflow=workflow,
                         staff=staff)
        assert plan.tasks
        assert all(is_open(schedule, t.due_at) for t in plan.tasks), now
        assert all(t.created_at < t.due_at or t.due_at < now for t in plan.tasks)
        assert all(o.times[-1] <= now for o in plan.orders)
    # The same seed and moment plan the same shop.
    again = [plan_demo(random.Random(7), customers=40, now=SATURDAY_NIGHT, schedule=schedule, workflow=workflow,
                       staff=staff) for _ in range(2)]
    assert again[0] == again[1]


async def test_demo_data_is_skipped_when_managers_exist(pool: Pool) -> None:
    await managers.create_manager(pool, managers.ManagerInput(login="owner", display_name="Владелец",
                                                              role="admin"), "long enough password")
    result = await load_demo_data(pool, customers=5)
    assert not result.created
    assert (await _counts(pool))["customers"] == 0


async def test_migrate_on_the_migrated_test_database_is_a_no_op(db_dsn: str) -> None:
    conn = await database.connect(db_dsn)
    try:
        before = await conn.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in before] == [v for v, _ in database.migration_files()]
        assert await database.migrate(conn) == []
        assert await database.migrate(conn) == []
        assert await conn.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before
    finally:
        await conn.close()


async def test_migrate_a_blank_database_then_again(pg_server: PgServer) -> None:
    name = f"perezvon_test_blank_{os.getpid()}"
    admin = await asyncpg.connect(pg_server.base_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    try:
        conn = await database.connect(pg_server.dsn(name))
        try:
            versions = [v for v, _ in database.migration_files()]
            assert versions and versions == sorted(versions)
            assert await database.migrate(conn) == versions
            statuses = await conn.fetchval("SELECT count(*) FROM order_statuses")
            assert await database.migrate(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM order_statuses") == statuses
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(versions)
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(pg_server.base_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()

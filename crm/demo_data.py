"""Demo data for `perezvon demo`: a Russian home-goods and electronics shop.

Its staff (every role), ~200 customers (people and companies across Russia, some VIP, most with a
responsible manager), their orders over the last weeks in every status, tasks due in working hours,
notes, and a routing example: groups, the shop's numbers with their sales channels, rules by dialled
number, channel and customer type, and working hours with the coming holidays.

The shop is planned by crm/demo/plan.py from a seeded random (the same shop every time), then written
through the repository functions the service uses, so the demo exercises the real rules: phone
normalisation, the routing configuration's checks, the distribution of orders that arrive without a
manager, the status workflow (each order walks its transitions, so its history is real). Only the
timestamps are then moved back onto the plan's timeline (an order placed three weeks ago, a task due
yesterday), which no repository function does. Loaded once: if any manager exists, the database is
left as it is.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crm import distribution, managers, orders, tasks
from crm.customers import CustomerInput, add_note, create_customer
from crm.database import Pool
from crm.demo.plan import DemoPlan, Staff, next_holidays, plan_demo
from crm.managers import ManagerInput
from crm.models import Manager, Role, RoutingSchedule
from crm.orders import OrderInput
from crm.routing import data as routing_data
from crm.routing.data import GroupInput, NumberInput, RuleInput, ScheduleInput
from crm.routing.hours import zone
from crm.tasks import TaskInput

DEMO_PASSWORD = "demo-password"

DEMO_MANAGERS: tuple[tuple[str, str, Role, tuple[str, ...], bool, int], ...] = (
    # login, name, role, extensions, vip_capable, seniority
    ("admin", "Администратор", "admin", (), False, 0),
    ("head", "Елена Морозова", "supervisor", ("100",), True, 90),
    ("anna", "Анна Смирнова", "operator", ("101",), True, 70),
    ("boris", "Борис Кузнецов", "operator", ("102",), False, 40),
    ("vera", "Вера Попова", "operator", ("103",), False, 30),
    ("gleb", "Глеб Васильев", "operator", ("104",), False, 10),
)
#: The shop's numbers, as the PBX simulator's default PEREZVON_SIM_DIDS dials them.
SHOP_NUMBERS = (NumberInput("74951234501", "site", "Номер на сайте"),
                NumberInput("74951234502", "landing", "Лендинг «Кофе дома»"),
                NumberInput("74951234503", "other", "Выделенная линия для постоянных клиентов"))
WORKING_HOURS = {1: ("09:00", "21:00"), 2: ("09:00", "21:00"), 3: ("09:00", "21:00"), 4: ("09:00", "21:00"),
                 5: ("09:00", "21:00"), 6: ("10:00", "18:00"), 7: ("10:00", "18:00")}
#: Orders walking the workflow at once (each walk is a few round trips; the orders are independent).
WALKERS = 4

BACKDATE_CUSTOMERS = """
UPDATE customers c SET created_at = p.at, updated_at = p.at
FROM unnest($1::bigint[], $2::timestamptz[]) AS p(id, at) WHERE c.id = p.id
"""
BACKDATE_PHONES = "UPDATE customer_phones p SET created_at = c.created_at FROM customers c WHERE c.id = p.customer_id"
BACKDATE_ORDERS = """
UPDATE orders o SET created_at = p.created, status_changed_at = p.changed, updated_at = p.changed
FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) AS p(id, created, changed) WHERE o.id = p.id
"""
# The n-th history row of an order (by id: the creation, then each change as it was made) gets the n-th time.
BACKDATE_HISTORY = """
WITH steps AS (SELECT id, order_id, row_number() OVER (PARTITION BY order_id ORDER BY id) AS step
               FROM order_status_history)
UPDATE order_status_history h SET changed_at = p.at
FROM steps s JOIN unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS p(order_id, step, at) USING (order_id, step)
WHERE h.id = s.id
"""
BACKDATE_ASSIGNMENTS = "UPDATE order_assignments a SET assigned_at = o.created_at FROM orders o WHERE o.id = a.order_id"
BACKDATE_TASKS = """
UPDATE tasks t SET created_at = p.created, closed_at = CASE WHEN t.status = 'open' THEN NULL ELSE p.closed END
FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) AS p(id, created, closed) WHERE t.id = p.id
"""
BACKDATE_NOTES = """
UPDATE notes n SET created_at = p.at FROM unnest($1::bigint[], $2::timestamptz[]) AS p(id, at) WHERE n.id = p.id
"""


@dataclass(frozen=True)
class DemoResult:
    created: bool
    logins: tuple[tuple[str, str, str], ...]  # login, role, display name


async def _staff(pool: Pool) -> dict[str, Manager]:
    staff = {}
    for login, name, role, extensions, vip_capable, seniority in DEMO_MANAGERS:
        staff[login] = await managers.create_manager(
            pool, ManagerInput(login=login, display_name=name, role=role, extensions=extensions,
                               vip_capable=vip_capable, seniority=seniority, max_concurrent_calls=2),
            DEMO_PASSWORD)
        if role != "admin":  # operators and the head of sales start online, so demo calls and orders reach them
            await managers.set_presence(pool, staff[login].id, "online")
    return staff


async def _routing(pool: Pool, ids: dict[str, int], timezone: str, now: datetime) -> RoutingSchedule:
    """The routing example: groups, the shop's numbers, rules, working hours and holidays; the global schedule."""
    sellers = tuple(ids[login] for login in ("anna", "boris", "vera", "gleb"))
    sales = await routing_data.create_group(pool, GroupInput("Продажи", queue="sales", ring_timeout_s=20,
                                                             member_ids=sellers))
    vip = await routing_data.create_group(pool, GroupInput(
        "VIP", queue="sales", ring_timeout_s=25, member_ids=(ids["head"], ids["anna"]), ring_all=True))
    wholesale = await routing_data.create_group(pool, GroupInput(
        "Опт и юрлица", queue="sales", ring_timeout_s=20, member_ids=(ids["boris"], ids["vera"])))
    for number in SHOP_NUMBERS:
        await routing_data.save_number(pool, number)
    for rule in (RuleInput(vip.id, 10, did=SHOP_NUMBERS[2].did, note="Выделенная линия: звонит всем старшим сразу"),
                 RuleInput(wholesale.id, 20, customer_kind="company", note="Юрлица и ИП — менеджерам по опту"),
                 RuleInput(sales.id, 30, channel="landing", note="Звонки и заказы с лендинга акции"),
                 RuleInput(sales.id, 40, channel="site", note="Номер и заказы с сайта")):
        await routing_data.create_rule(pool, rule)
    default = next(s for s in await routing_data.list_schedules(pool) if s.did == "")
    schedule = await routing_data.update_schedule(pool, default.id, ScheduleInput(
        timezone=timezone, hours=WORKING_HOURS, after_hours_target="voicemail:general"))
    for day, name in next_holidays(now.astimezone(zone(schedule.timezone) or UTC).date()):
        schedule = await routing_data.add_holiday(pool, schedule.id, day, name)
    return schedule


async def _walk(pool: Pool, walks: Sequence[tuple[int, tuple[str, ...], int | None]]) -> None:
    """Move each order through its statuses with `orders.change_status`, a few orders at a time."""
    pending = iter(walks)

    async def walker() -> None:
        for order_id, statuses, by in pending:
            for code in statuses:
                await orders.change_status(pool, order_id, code, by)

    async with asyncio.TaskGroup() as group:
        for _ in range(WALKERS):
            group.create_task(walker())


async def _write_customers(pool: Pool, plan: DemoPlan, ids: dict[str, int]) -> tuple[list[int], list[int]]:
    """The customers with their phones and notes: (customer ids, note ids), in the plan's order."""
    customer_ids, note_ids = [], []
    for c in plan.customers:
        customer = await create_customer(pool, CustomerInput(
            name=c.name, kind=c.kind, vip=c.vip, region=c.region, tags=c.tags, email=c.email, phones=c.phones,
            responsible_manager_id=ids[c.responsible] if c.responsible else None))
        customer_ids.append(customer.id)
        for body, _, author in c.notes:
            note_ids.append((await add_note(pool, customer.id, ids[author], body)).id)
    return customer_ids, note_ids


async def _write_orders(pool: Pool, plan: DemoPlan, ids: dict[str, int],
                        customer_ids: list[int]) -> dict[str, tuple[int, int | None]]:
    """The orders, oldest first, walked to their statuses: order number -> (order id, manager id)."""
    placed: dict[str, tuple[int, int | None]] = {}
    for o in plan.orders:
        manager_id = ids[o.manager] if o.manager else None
        order = await orders.create_order(pool, OrderInput(
            number=o.number, customer_id=customer_ids[o.customer], manager_id=manager_id, channel=o.channel,
            items=o.items), created_by=manager_id if o.channel == "phone" else None)
        if manager_id is None:  # came in from the site, the app...: the order distribution picks its manager
            choice = await distribution.distribute(pool, order.id)
            manager_id = choice.manager_id if choice else None
        placed[o.number] = (order.id, manager_id)
    await _walk(pool, [(placed[o.number][0], o.statuses, placed[o.number][1]) for o in plan.orders])
    return placed


async def _write_tasks(pool: Pool, plan: DemoPlan, staff: dict[str, Manager], customer_ids: list[int],
                       placed: dict[str, tuple[int, int | None]]) -> list[int]:
    """The tasks (some already done), assigned to the customer's manager, else the order's."""
    task_ids = []
    for t in plan.tasks:
        order_id, order_manager = placed[t.order_number] if t.order_number else (None, None)
        assignee = staff[t.assignee].id if t.assignee else order_manager
        task = await tasks.create_task(pool, TaskInput(
            kind=t.kind, title=t.title, customer_id=customer_ids[t.customer], order_id=order_id,
            assignee_id=assignee, due_at=t.due_at), None)
        if t.result is not None:
            viewer = next((m for m in staff.values() if m.id == assignee), staff["head"])
            await tasks.close_task(pool, task.id, viewer, result_note=t.result)
        task_ids.append(task.id)
    return task_ids


async def _backdate(pool: Pool, plan: DemoPlan, customer_ids: list[int], note_ids: list[int],
                    placed: dict[str, tuple[int, int | None]], task_ids: list[int]) -> None:
    """Move what was just written back onto the plan's timeline, in one transaction."""
    order_ids = [placed[o.number][0] for o in plan.orders]
    steps = [(order_id, step, at) for order_id, o in zip(order_ids, plan.orders, strict=True)
             for step, at in enumerate(o.times, start=1)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(BACKDATE_CUSTOMERS, customer_ids, [c.created_at for c in plan.customers])
        await conn.execute(BACKDATE_PHONES)
        await conn.execute(BACKDATE_NOTES, note_ids, [at for c in plan.customers for _, at, _ in c.notes])
        await conn.execute(BACKDATE_ORDERS, order_ids, [o.times[0] for o in plan.orders],
                           [o.times[-1] for o in plan.orders])
        await conn.execute(BACKDATE_HISTORY, *([list(column) for column in zip(*steps, strict=True)] or [[], [], []]))
        await conn.execute(BACKDATE_ASSIGNMENTS)
        await conn.execute(BACKDATE_TASKS, task_ids, [t.created_at for t in plan.tasks],
                           [t.closed_at for t in plan.tasks])


async def load_demo_data(pool: Pool, *, customers: int = 200, seed: int = 20261122,
                         timezone: str = "Europe/Moscow", now: datetime | None = None) -> DemoResult:
    """Load the demo shop unless the database has managers already.

    `timezone`: the shop's (PEREZVON_TIMEZONE), for its working hours; `now`: the moment the demo's
    timeline ends at (default: the clock), so tests can load the shop as it is at night.
    """
    logins = tuple((login, role, name) for login, name, role, *_ in DEMO_MANAGERS)
    if await pool.fetchval("SELECT count(*) FROM managers") > 0:
        return DemoResult(created=False, logins=logins)
    now = now or datetime.now(UTC)
    staff = await _staff(pool)
    ids = {login: m.id for login, m in staff.items()}
    schedule = await _routing(pool, ids, timezone, now)
    team = Staff(operators=tuple(login for login, m in staff.items() if m.role == "operator"),
                 seniors=tuple(login for login, m in staff.items() if m.vip_capable))
    plan = plan_demo(random.Random(seed), customers=customers, now=now, schedule=schedule,
                     workflow=await orders.load_workflow(pool), staff=team)
    customer_ids, note_ids = await _write_customers(pool, plan, ids)
    placed = await _write_orders(pool, plan, ids, customer_ids)
    task_ids = await _write_tasks(pool, plan, staff, customer_ids, placed)
    await _backdate(pool, plan, customer_ids, note_ids, placed, task_ids)
    return DemoResult(created=True, logins=logins)

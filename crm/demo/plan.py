"""The demo shop as a plan: who its customers are, what they ordered and when, what managers have to do.

Pure: no I/O and no clock (`now` is passed in), drawn from one seeded `random.Random`, so a seed gives
the same shop every time and the plan can be checked without a database. crm/demo_data.py writes it
through the repositories. Managers are named by login (their ids exist only once written).

The timeline is real: an order's statuses follow the workflow's transitions, each after a plausible
stay in the one before (minutes in «Новый», days on the road), and some open orders have stayed in
their status longer than its time limit. Every task falls due inside the working hours of the
schedule given, in its time zone: some days ago (overdue), some today, some in the coming days.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crm.demo import catalog
from crm.models import CustomerKind, RoutingSchedule, SalesChannel, TaskKind
from crm.routing.hours import MINUTES_PER_DAY, is_open, zone
from crm.workflow import StatusWorkflow

ORDER_NUMBER_START = 10234
#: How often an order has got to each status by now (statuses the workflow lacks are skipped).
STATUS_WEIGHTS = {"new": 3, "confirmed": 8, "assembling": 9, "shipped": 12, "delivered": 8, "completed": 26,
                  "cancelled": 10, "return_requested": 3, "returned": 3}
#: A status some orders pass on the way to the target: cancelled after confirming, returned after delivery.
VIA = {"cancelled": (("new", 5), ("confirmed", 3), ("assembling", 2)),
       "returned": (("shipped", 1), ("return_requested", 2)),
       "return_requested": (("delivered", 3), ("completed", 1))}
#: How long an order stays in a status before it moves on: (shortest, longest).
STAY = {"new": (timedelta(minutes=3), timedelta(minutes=40)), "confirmed": (timedelta(minutes=20), timedelta(hours=4)),
        "assembling": (timedelta(hours=3), timedelta(hours=20)), "shipped": (timedelta(days=1), timedelta(days=5)),
        "delivered": (timedelta(hours=2), timedelta(days=2)), "completed": (timedelta(days=2), timedelta(days=10)),
        "return_requested": (timedelta(hours=4), timedelta(days=1))}
DEFAULT_STAY = (timedelta(hours=1), timedelta(days=1))
#: Share of open orders that have stayed in their status past its time limit (of new ones: a night's worth).
LATE_SHARE = 0.25
LATE_SHARE_NEW = 0.5
#: When tasks fall due, taken in turn: days ago, today (earlier or later than now), tomorrow-ish, next week.
DUE_PATTERN = ("today", "overdue", "soon", "later", "today", "overdue", "soon", "today")


@dataclass(frozen=True)
class Staff:
    """Demo managers by login: operators take customers, seniors (VIP-capable) the VIP ones."""

    operators: tuple[str, ...]
    seniors: tuple[str, ...]


@dataclass(frozen=True)
class PlannedCustomer:
    name: str
    kind: CustomerKind
    vip: bool
    region: str
    tags: tuple[str, ...]
    responsible: str | None
    email: str
    phones: tuple[str, ...]
    created_at: datetime
    notes: tuple[tuple[str, datetime, str], ...] = ()  # text, written at, by (login)


@dataclass(frozen=True)
class PlannedOrder:
    number: str
    customer: int  # index in DemoPlan.customers
    channel: SalesChannel
    items: tuple[dict[str, Any], ...]
    #: None: the order came in unassigned and the shop's order distribution picks the manager.
    manager: str | None
    statuses: tuple[str, ...]  # after the initial one, in order
    times: tuple[datetime, ...]  # the creation, then one per status change
    status: str  # where it is now


@dataclass(frozen=True)
class PlannedTask:
    customer: int
    order_number: str | None
    kind: TaskKind
    title: str
    #: None with an order: that order's manager; None without: nobody yet (any operator may take it).
    assignee: str | None
    due_at: datetime
    created_at: datetime
    result: str | None = None  # done, with this result note ...
    closed_at: datetime | None = None  # ... at this moment


@dataclass(frozen=True)
class DemoPlan:
    customers: tuple[PlannedCustomer, ...]
    orders: tuple[PlannedOrder, ...]  # oldest first, numbered in that order
    tasks: tuple[PlannedTask, ...]


def status_path(workflow: StatusWorkflow, start: str, target: str) -> list[str]:
    """The shortest list of statuses leading from `start` to `target` (empty when unreachable or equal)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier and target not in paths:
        nxt = []
        for code in frontier:
            for a, b in sorted(workflow.transitions):
                if a == code and b not in paths:
                    paths[b] = paths[code] + [b]
                    nxt.append(b)
        frontier = nxt
    return paths.get(target, [start])[1:]


def _between(rng: random.Random, shortest: timedelta, longest: timedelta) -> timedelta:
    return timedelta(seconds=rng.uniform(shortest.total_seconds(), longest.total_seconds()))


def _person(rng: random.Random) -> str:
    """'Фамилия Имя Отчество', as the CRM keeps people."""
    surname, stem = rng.choice(catalog.SURNAMES), rng.choice(catalog.PATRONYMIC_STEMS)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(catalog.MALE_FIRST)} {stem}ич"
    female = surname[:-2] + "ая" if surname.endswith("ий") else surname + "а"
    return f"{female} {rng.choice(catalog.FEMALE_FIRST)} {stem}на"


def _customers(rng: random.Random, count: int, now: datetime, staff: Staff) -> list[PlannedCustomer]:
    companies = rng.sample(catalog.COMPANIES, k=len(catalog.COMPANIES))
    regions = list(catalog.REGIONS)
    weights = [catalog.REGIONS[r][0] for r in regions]
    used_names: set[str] = set()
    used_phones: set[str] = set()
    out = []
    for _ in range(count):
        company = companies.pop() if companies and rng.random() < 0.1 else None
        name = company[0] if company else _person(rng)
        while name in used_names:
            name = _person(rng)
        used_names.add(name)
        region = rng.choices(regions, weights)[0]
        phones: list[str] = []
        while len(phones) < (2 if rng.random() < (0.5 if company else 0.1) else 1):
            phone = f"+7{rng.choice(catalog.REGIONS[region][1])}{rng.randrange(10**7):07d}"
            if phone not in used_phones:
                used_phones.add(phone)
                phones.append(phone)
        vip = rng.random() < 0.08
        responsible = None
        if vip or rng.random() < 0.8:
            responsible = rng.choice(staff.seniors if vip and staff.seniors else staff.operators)
        tags = tuple(rng.sample(catalog.TAGS, k=rng.choice((0, 1, 1, 2))))
        out.append(PlannedCustomer(
            name=name, kind="company" if company else "person", vip=vip, region=region,
            tags=(("опт", *tags) if company else tags), responsible=responsible, email=company[1] if company else "",
            phones=tuple(phones), created_at=now - _between(rng, timedelta(days=20), timedelta(days=400))))
    return out


def _items(rng: random.Random, company: bool) -> tuple[dict[str, Any], ...]:
    picked = rng.sample(catalog.PRODUCTS, k=rng.choices((1, 2, 3), (60, 30, 10))[0])
    return tuple({"sku": sku, "name": name, "price": price,
                  "qty": rng.randint(2, 10) if company else rng.choices((1, 2), (85, 15))[0]}
                 for sku, name, price in picked)


def _timeline(rng: random.Random, workflow: StatusWorkflow, statuses: list[str], now: datetime) -> list[datetime]:
    """When the order was created and moved to each status, oldest first, ending before `now`."""
    current = workflow.status(statuses[-1]) if statuses else workflow.initial
    limit = current.time_limit
    if current.is_final or limit is None:
        stayed = _between(rng, timedelta(hours=1), timedelta(days=45))
    elif rng.random() < (LATE_SHARE_NEW if current.is_initial else LATE_SHARE):  # nobody moved it on in time
        stayed = limit + max(limit, timedelta(hours=1)) * rng.uniform(0.3, 1.5)
    else:
        stayed = limit * rng.uniform(0.1, 0.8)
    times = [now - stayed]
    for left in reversed([workflow.initial.code, *statuses][:-1]):
        times.append(times[-1] - _between(rng, *STAY.get(left, DEFAULT_STAY)))
    return times[::-1]


def _orders(rng: random.Random, customers: list[PlannedCustomer], workflow: StatusWorkflow,
            now: datetime, staff: Staff) -> list[PlannedOrder]:
    codes = [s.code for s in workflow.statuses]
    weights = [STATUS_WEIGHTS.get(code, 1) for code in codes]
    channels, channel_weights = zip(*catalog.ORDER_CHANNELS, strict=True)
    start = workflow.initial.code
    drafts = []
    for index, customer in enumerate(customers):
        count = rng.choices((0, 1, 2, 3, 4), (25, 50, 17, 6, 2))[0] + (customer.kind == "company")
        for _ in range(count):
            target = rng.choices(codes, weights)[0]
            via = rng.choices(*zip(*VIA[target], strict=True))[0] if target in VIA else start
            statuses = status_path(workflow, start, via) + status_path(workflow, via, target)
            if not statuses or statuses[-1] != target:
                statuses = status_path(workflow, start, target)
            channel: SalesChannel = rng.choices(channels, channel_weights)[0]
            # Taken by phone: the operator on the call (the customer's own manager when they have one);
            # from the site, the app...: the customer's manager, else the order distribution picks one.
            manager = customer.responsible or (rng.choice(staff.operators) if channel == "phone" else None)
            drafts.append(PlannedOrder("", index, channel, _items(rng, customer.kind == "company"), manager,
                                       tuple(statuses), tuple(_timeline(rng, workflow, statuses, now)),
                                       statuses[-1] if statuses else start))
    drafts.sort(key=lambda o: o.times[0])
    return [replace(o, number=str(ORDER_NUMBER_START + n)) for n, o in enumerate(drafts)]


def working_moment(rng: random.Random, schedule: RoutingSchedule, day: date) -> datetime | None:
    """A quarter-hour inside `day`'s working hours (not the first or last half hour), in UTC; None when closed."""
    tz = zone(schedule.timezone) or UTC
    hours = {h.weekday: h for h in schedule.hours}.get(day.isoweekday())
    if hours is None or day in {h.day for h in schedule.holidays}:
        return None
    closes = MINUTES_PER_DAY if hours.overnight else hours.closes_min
    first, last = hours.opens_min + 30, closes - 30
    if last < first:
        first, last = hours.opens_min, closes - 1
    minute = rng.randrange(first, last + 1, 15) if last >= first else hours.opens_min
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC) if is_open(schedule, local) else None


def working_moment_before(rng: random.Random, schedule: RoutingSchedule, before: datetime,
                          not_before: datetime) -> datetime:
    """A working moment in the few days up to `before` and after `not_before` (else an hour before `before`)."""
    day = before.astimezone(zone(schedule.timezone) or UTC).date()
    for back in range(rng.randint(0, 2), 7):
        moment = working_moment(rng, schedule, day - timedelta(days=back))
        if moment is not None and not_before < moment < before:
            return moment
    return max(not_before, before - timedelta(hours=1))


def due_moment(rng: random.Random, schedule: RoutingSchedule, now: datetime, when: str) -> datetime | None:
    """A working moment `when` ('overdue': a working day before today, 'today', 'soon', 'later')."""
    today = now.astimezone(zone(schedule.timezone) or UTC).date()
    first = {"overdue": -rng.randint(1, 3), "today": 0, "soon": rng.randint(1, 2), "later": rng.randint(3, 7)}[when]
    step = -1 if when == "overdue" else 1
    for offset in range(first, first + 14 * step, step):
        moment = working_moment(rng, schedule, today + timedelta(days=offset))
        if moment is not None:
            return moment
    return None


def _tasks(rng: random.Random, customers: list[PlannedCustomer], orders: list[PlannedOrder],
           schedule: RoutingSchedule, now: datetime) -> list[PlannedTask]:
    latest = {order.customer: order for order in orders}  # orders are oldest first
    out = []
    turn = 0
    for index, customer in enumerate(customers):
        if rng.random() >= 0.3:
            continue
        order: PlannedOrder | None = latest.get(index)
        product = rng.choice(catalog.PRODUCTS)[1]
        if order is not None and rng.random() < 0.7 and order.status in catalog.ORDER_TASKS:
            product = order.items[0]["name"]
            kind, title = rng.choice(catalog.ORDER_TASKS[order.status])
        else:
            order = None
            kind, title = rng.choice(catalog.COMPANY_TASKS if customer.kind == "company" else catalog.CUSTOMER_TASKS)
        when = DUE_PATTERN[turn % len(DUE_PATTERN)]
        turn += 1
        due = due_moment(rng, schedule, now, when)
        if due is None:
            continue
        created = working_moment_before(rng, schedule, min(due, now), customer.created_at)
        done = rng.choice(catalog.TASK_RESULTS) if when == "overdue" and rng.random() < 0.35 else None
        closed = min(now, max(created, due + timedelta(minutes=rng.randint(-90, 60)))) if done else None
        out.append(PlannedTask(
            customer=index, order_number=order.number if order else None, kind=kind,
            title=title.format(number=order.number if order else "", product=product, name=customer.name),
            assignee=customer.responsible, due_at=due, created_at=created, result=done, closed_at=closed))
    return out


def _with_notes(rng: random.Random, customer: PlannedCustomer, schedule: RoutingSchedule, now: datetime,
                staff: Staff) -> PlannedCustomer:
    """Some customers have a note or two, written on a working day since they came."""
    if rng.random() >= 0.15:
        return customer
    texts = catalog.COMPANY_NOTES + catalog.NOTES if customer.kind == "company" else catalog.NOTES
    notes = []
    for text in rng.sample(texts, k=rng.choice((1, 1, 2))):
        written = now - timedelta(days=rng.randint(0, max(0, (now - customer.created_at).days - 7)))
        notes.append((text, working_moment_before(rng, schedule, written, customer.created_at),
                      customer.responsible or rng.choice(staff.operators)))
    return replace(customer, notes=tuple(sorted(notes, key=lambda n: n[1])))


def next_holidays(today: date, count: int = 2) -> list[tuple[date, str]]:
    """The next `count` public holidays after `today` (today itself is left a working day)."""
    days = sorted((date(year, month, day), name) for year in (today.year, today.year + 1)
                  for month, day, name in catalog.HOLIDAYS)
    return [(day, name) for day, name in days if day > today][:count]


def plan_demo(rng: random.Random, *, customers: int, now: datetime, schedule: RoutingSchedule,
              workflow: StatusWorkflow, staff: Staff) -> DemoPlan:
    """The whole demo shop, drawn from `rng`: customers, their orders oldest first, tasks in working hours."""
    people = _customers(rng, customers, now, staff)
    orders = _orders(rng, people, workflow, now, staff)
    for order in orders:  # a customer exists before their first order
        customer = people[order.customer]
        if customer.created_at > order.times[0]:
            people[order.customer] = replace(customer, created_at=order.times[0] - timedelta(minutes=5))
    people = [_with_notes(rng, customer, schedule, now, staff) for customer in people]
    return DemoPlan(tuple(people), tuple(orders), tuple(_tasks(rng, people, orders, schedule, now)))

"""Routing data for `bench/route_latency.py`, added on top of `bench/customer_lookup.py`'s customers and orders.

The customer generator gives 50 operators and 3 supervisors, customers (1 % VIP, 2 % companies, 60 % with
a responsible operator, ten regions) and orders spread over 1,000 days. This adds what a contact
centre's routing needs, in bulk SQL so 1,000,000 customers take seconds:

* operators up to `managers` in all, each with an extension (`1001`...; every tenth a second desk
  phone `5001`...), presence 70 % online / 20 % away / 10 % offline, a concurrency cap of 1 or 2,
  and every tenth VIP-capable with a seniority;
* five routing groups with queues and six rules: companies -> B2B, region Kazan -> the Kazan team, the
  landing page's number -> landing team, the app's channel -> app team, the site's channel -> site team
  (the corporate line has no rule: least-loaded operator);
* the shop's four numbers with their sales channels, a schedule of its own for the landing number, and
  upcoming public holidays on the global schedule;
* realistic order states: an order still `new`, `shipped` or `return_requested` (the statuses the
  migration flags urgent for calls) after 30 days is marked `completed`, so about 1 % of customers
  have an urgent open order, not the third that a uniform status draw would give.

Idempotent: a database that already has the `bench-` groups is left as it is (`--data-dir` reuse).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

from crm.database import Connection

log = logging.getLogger(__name__)

GROUP_PREFIX = "bench-"


@dataclass(frozen=True)
class ShopNumber:
    did: str
    channel: str
    label: str
    #: Share of inbound calls to this number, in percent.
    weight: int


NUMBERS = (
    ShopNumber("74951234567", "site", "Сайт", 60),
    ShopNumber("74951234568", "landing", "Лендинг «Распродажа»", 15),
    ShopNumber("74951234569", "app", "Мобильное приложение", 15),
    ShopNumber("74951234570", "phone", "Корпоративная линия", 10),
)

# (name suffix, queue, ring timeout, share of the operators (in order) who are members)
GROUPS = (
    ("site", "site", 20, 0.50),
    ("landing", "landing", 20, 0.20),
    ("app", "app", 20, 0.15),
    ("b2b", "b2b", 30, 0.08),
    ("kazan", "kazan", 25, 0.07),
)

# (position, did, channel, customer kind, region, group suffix, note)
RULES = (
    (10, "", "", "company", "", "b2b", "Юрлица — в отдел B2B"),
    (20, "", "", "", "Казань", "kazan", "Казань — местная команда"),
    (30, "74951234568", "", "", "", "landing", "Номер лендинга"),
    (40, "", "app", "", "", "app", "Звонки из приложения"),
    (50, "", "site", "", "", "site", "Номер сайта"),
    (60, "", "marketplace", "", "", "site", "Маркетплейсы — как сайт"),
)

ADD_OPERATORS = """
INSERT INTO managers (login, display_name, role, password_hash, presence)
SELECT 'benchoperator' || g, 'Bench operator ' || g, 'operator', 'bench-no-login', 'online'
FROM generate_series($1::int, $2::int) AS g
ON CONFLICT (login) DO NOTHING
"""

# n = the operator's rank (1..): presence, cap, VIP flag and seniority derived from it, so runs are repeatable.
SHAPE_OPERATORS = """
UPDATE managers m SET
    presence = CASE WHEN o.n % 10 < 7 THEN 'online' WHEN o.n % 10 < 9 THEN 'away' ELSE 'offline' END,
    presence_changed_at = now() - o.n * interval '3 minutes',
    max_concurrent_calls = 1 + (o.n % 3 = 0)::int,
    vip_capable = o.n % 10 = 1,
    seniority = (o.n * 37) % 101
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM managers WHERE role = 'operator') AS o
WHERE m.id = o.id
"""

ADD_EXTENSIONS = """
INSERT INTO manager_extensions (extension, manager_id)
SELECT (1000 + o.n)::text, o.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM managers WHERE role = 'operator') AS o
UNION ALL
SELECT (5000 + o.n)::text, o.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM managers WHERE role = 'operator') AS o
WHERE o.n % 10 = 0
ON CONFLICT (extension) DO NOTHING
"""

ADD_MEMBERS = """
INSERT INTO routing_group_members (group_id, manager_id)
SELECT $1::bigint, id FROM managers WHERE role = 'operator' ORDER BY id OFFSET $2 LIMIT $3
ON CONFLICT DO NOTHING
"""

COMPLETE_OLD_URGENT = """
UPDATE orders SET status = 'completed', status_changed_at = created_at + interval '7 days'
WHERE status IN (SELECT code FROM order_statuses WHERE urgent_for_calls) AND created_at < now() - interval '30 days'
"""


async def has_routing_data(conn: Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM routing_groups WHERE name LIKE $1", GROUP_PREFIX + "%"))


def upcoming_holidays(today: date) -> list[tuple[date, str]]:
    """The Russian New Year holidays and 8 March of the next year: realistic rows for the schedule query."""
    year = today.year + 1
    days = [(date(year, 1, d), "Новогодние каникулы") for d in range(1, 9)]
    return [*days, (date(year, 3, 8), "Международный женский день")]


async def add_routing_data(conn: Connection, managers: int) -> None:
    """Operators up to `managers` in all, extensions, presence, caps, groups, numbers, rules, schedules."""
    started = time.perf_counter()
    async with conn.transaction():
        existing = await conn.fetchval("SELECT count(*) FROM managers")
        operators = await conn.fetchval("SELECT count(*) FROM managers WHERE role = 'operator'")
        if managers > existing:
            await conn.execute(ADD_OPERATORS, operators + 1, operators + managers - existing)
        await conn.execute(SHAPE_OPERATORS)
        await conn.execute(ADD_EXTENSIONS)
        total = await conn.fetchval("SELECT count(*) FROM managers WHERE role = 'operator'")
        group_ids: dict[str, int] = {}
        offset = 0
        for suffix, queue, ring, share in GROUPS:
            size = max(1, round(total * share))
            group_ids[suffix] = await conn.fetchval(
                "INSERT INTO routing_groups (name, queue, ring_timeout_s) VALUES ($1, $2, $3) RETURNING id",
                GROUP_PREFIX + suffix, queue, ring)
            await conn.execute(ADD_MEMBERS, group_ids[suffix], offset % total, size)
            offset += size
        await conn.executemany("INSERT INTO routing_numbers (did, channel, label) VALUES ($1, $2, $3)",
                               [(n.did, n.channel, n.label) for n in NUMBERS])
        await conn.executemany(
            "INSERT INTO routing_rules (position, did, channel, customer_kind, region, group_id, note) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(pos, did, channel, kind, region, group_ids[group], note)
             for pos, did, channel, kind, region, group, note in RULES])
        await conn.execute(
            "INSERT INTO routing_schedules (did, hours, after_hours_target) VALUES ($1, $2, 'voicemail:landing')",
            NUMBERS[1].did, {str(d): ["10:00", "19:00"] for d in range(1, 6)})
        global_id = await conn.fetchval("SELECT id FROM routing_schedules WHERE did = ''")
        today = await conn.fetchval("SELECT current_date")
        await conn.executemany("INSERT INTO routing_holidays (schedule_id, day, note) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING",
                               [(global_id, day, note) for day, note in upcoming_holidays(today)])
        completed = await conn.execute(COMPLETE_OLD_URGENT)
    log.info("routing data: %s; %.1f s", completed, time.perf_counter() - started)
    await conn.execute("VACUUM ANALYZE orders")
    await conn.execute("ANALYZE managers")
    await conn.execute("ANALYZE manager_extensions")
    log.info("routing data vacuumed: %.1f s", time.perf_counter() - started)

"""The audit's daily roll-up (crm/audit_rollup.py) gives exactly the figures of the direct queries
(tests/audit_oracle.py, the audit as it was before the roll-up) over a seeded history: whole and partial
days, days changed after they were rolled up, the shop's day boundaries, and rolling up twice or at once."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm import audit, audit_rollup, callbacks, customers
from crm.audit import Audit
from crm.customers import CustomerInput
from crm.database import Pool
from tests.audit_oracle import direct_audit
from tests.conftest import MakeManager
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import job_app
from web.live.bus import LocalBus
from web.live.hub import LiveHub

MOSCOW = "Europe/Moscow"
FIRST_DAY = date(2026, 11, 16)
DAYS = 6
AFTER = datetime(2026, 11, 24, tzinfo=UTC)  # every seeded day is complete by then
DIDS = ("74951234501", "74951234502", "74951234599")  # the last one is in no routing rule
REASONS = ("no_answer", "busy", "abandoned", "queue_timeout", "after_hours")

INSERT_CALL = """
INSERT INTO calls (linkedid, direction, caller, did, started_at, ended_at, answered_at, outcome, reason,
                   customer_e164, customer_id, manager_id, ring_s, talk_s, queue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""


def _local(day: date, hour: float, zone: str = MOSCOW) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)) + timedelta(hours=hour)


async def add_call(pool: Pool, lid: str, *, at: datetime, phone: str, outcome: str, direction: str = "inbound",
                   reason: str = "", did: str = DIDS[0], manager_id: int | None = None, ring_s: float = 4.0,
                   talk_s: float = 60.0, queue: str = "", customer_id: int | None = None) -> None:
    """One call written as the recorder leaves it, then its call_ended work (the callback opened or reached)."""
    answered = outcome == "answered"
    ended = at + timedelta(seconds=ring_s + (talk_s if answered else 0))
    await pool.execute(INSERT_CALL, lid, direction, phone.lstrip("+"), did, at, ended,
                       at + timedelta(seconds=ring_s) if answered else None, outcome, "" if answered else reason,
                       phone, customer_id, manager_id, ring_s, talk_s if answered else None, queue)
    await callbacks.on_missed_call(pool, lid)
    await callbacks.on_call_ended(pool, lid)


async def seed_history(pool: Pool, make_manager: MakeManager, *, seed: int = 7, calls: int = 260,
                       zone: str = MOSCOW) -> list[int]:
    """Calls over DAYS days of `zone` (and a little before and after), a few near each midnight; a small pool of
    numbers, so numbers are missed again on later days while their callback is open (tasks spanning days),
    callbacks reached inbound and outbound, on time and late; some customers with a responsible manager."""
    rng = random.Random(seed)
    managers = [(await make_manager("operator", name=f"Оператор {i}")).id for i in range(3)]
    await pool.execute("INSERT INTO routing_numbers (did, channel, label) VALUES ($1, 'site', 'Сайт'), "
                       "($2, 'marketplace', 'Маркетплейс')", DIDS[0], DIDS[1])
    phones = [f"+7916555{n:04d}" for n in range(30)]
    owners: dict[str, int] = {}
    for phone in phones[:12]:
        customer = await customers.create_customer(pool, CustomerInput(
            name=f"Клиент {phone[-4:]}", phones=(phone,), responsible_manager_id=rng.choice(managers)))
        owners[phone] = customer.id
    moments = [_local(FIRST_DAY, rng.uniform(-3, DAYS * 24 + 3), zone) for _ in range(calls)]
    moments += [_local(FIRST_DAY + timedelta(days=d), rng.uniform(-0.05, 0.05), zone) for d in range(DAYS + 1)
                for _ in range(3)]
    for n, at in enumerate(sorted(moments)):
        phone, roll, did = rng.choice(phones), rng.random(), rng.choice(DIDS)
        queue = "sales" if rng.random() < 0.3 else ""
        if roll < 0.55:
            await add_call(pool, f"in-{n}", at=at, phone=phone, outcome="answered", did=did, queue=queue,
                           manager_id=rng.choice([*managers, None]), customer_id=owners.get(phone),
                           ring_s=rng.choice([0.0, 3.0, 7.5, 12.0, 25.0, 45.0, 75.0]))
        elif roll < 0.9:
            await add_call(pool, f"in-{n}", at=at, phone=phone, outcome=rng.choice(["missed"] * 5 + ["lost"]),
                           did=did, queue=queue, reason=rng.choice(REASONS), customer_id=owners.get(phone),
                           ring_s=rng.choice([1.0, 8.0, 20.0]))
        else:  # a callback by an operator, minutes or hours later
            await add_call(pool, f"out-{n}", direction="outbound", at=at + timedelta(minutes=rng.choice([2, 30, 200])),
                           phone=phone, outcome="answered", manager_id=rng.choice(managers),
                           customer_id=owners.get(phone))
    return managers


def _same(a: Audit) -> Audit:
    """What may differ in order only: the delays (a chart's histogram) and rows tied on their sort key."""
    return dataclasses.replace(a, callback_delays_s=sorted(a.callback_delays_s),
                               by_number=sorted(a.by_number, key=lambda r: r.key),
                               by_channel=sorted(a.by_channel, key=lambda r: r.key),
                               missed_by_reason=dict(sorted(a.missed_by_reason.items())))


async def assert_same_figures(pool: Pool, start: datetime, end: datetime, zone: str = MOSCOW) -> None:
    rolled = await audit.missed_calls_audit(pool, start, end, zone=zone)
    direct = await direct_audit(pool, start, end, zone=zone)
    assert _same(rolled) == _same(direct), (start, end)
    assert [r.inbound for r in rolled.by_number] == sorted((r.inbound for r in rolled.by_number), reverse=True)


async def rollup_rows(pool: Pool) -> dict[str, list[tuple[object, ...]]]:
    rows: dict[str, list[tuple[object, ...]]] = {}
    for table in ("audit_rollup_days", *audit_rollup.TABLES):
        records = await pool.fetch(f"SELECT * FROM {table}")
        rows[table] = sorted((tuple(v for k, v in r.items() if k != "rolled_at") for r in records), key=repr)
    return rows


def test_uncovered_leaves_the_gaps_between_and_around_the_covered_days() -> None:
    t = [datetime(2026, 11, d, tzinfo=UTC) for d in range(1, 8)]
    assert audit_rollup.uncovered(t[0], t[6], []) == [(t[0], t[6])]
    assert audit_rollup.uncovered(t[0], t[6], [(t[1], t[2]), (t[2], t[3]), (t[4], t[5])]) == [
        (t[0], t[1]), (t[3], t[4]), (t[5], t[6])]
    assert audit_rollup.uncovered(t[0], t[2], [(t[0], t[1]), (t[1], t[2])]) == []


async def test_rolled_up_figures_are_the_direct_ones_for_whole_and_partial_days(
        pool: Pool, make_manager: MakeManager) -> None:
    await seed_history(pool, make_manager)
    result = await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    assert result.days >= DAYS and result.left == 0
    spanning = await pool.fetchval("SELECT count(*) FROM audit_rollup_spanning")
    assert spanning > 0, "the seed should leave callbacks whose missed calls span days"
    zone = ZoneInfo(MOSCOW)
    first = datetime.combine(FIRST_DAY, time(), zone)
    whole = (first, first + timedelta(days=DAYS))
    plan = await audit_rollup.plan_range(pool, *whole, MOSCOW)
    assert len(plan.days) == DAYS and plan.raw == []  # all from the roll-up
    ranges = [whole, (first + timedelta(days=2), first + timedelta(days=3)),  # one shop day
              (first - timedelta(hours=5), first + timedelta(days=DAYS, hours=5)),  # beyond the data
              (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),  # UTC days: partial edges
              (first + timedelta(hours=13, minutes=7), first + timedelta(days=3, hours=2)),
              (first + timedelta(hours=1), first + timedelta(hours=20))]  # inside one day: no roll-up at all
    rng = random.Random(3)
    for _ in range(6):
        low = first + timedelta(minutes=rng.randrange(-600, DAYS * 1440))
        ranges.append((low, low + timedelta(minutes=rng.randrange(1, 4 * 1440))))
    for start, end in ranges:
        await assert_same_figures(pool, start, end)
    plan = await audit_rollup.plan_range(pool, *ranges[3], MOSCOW)
    assert len(plan.days) == 4 and len(plan.raw) == 2  # four Moscow days whole, 21 h and 3 h from the calls


async def test_a_day_changed_after_its_roll_up_is_read_from_the_calls_until_recomputed(
        pool: Pool, make_manager: MakeManager) -> None:
    managers = await seed_history(pool, make_manager, seed=11, calls=160)
    await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    zone = ZoneInfo(MOSCOW)
    first = datetime.combine(FIRST_DAY, time(), zone)
    whole = (first, first + timedelta(days=DAYS))
    day2 = FIRST_DAY + timedelta(days=2)

    async def changed(what: str) -> None:
        plan = await audit_rollup.plan_range(pool, *whole, MOSCOW)
        assert day2 not in plan.days, what  # not clean: its calls are read instead
        await assert_same_figures(pool, *whole)
        await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
        assert day2 in (await audit_rollup.plan_range(pool, *whole, MOSCOW)).days, what
        await assert_same_figures(pool, *whole)

    # A late CDR: a missed call that ended long ago, written now (its callback opened now, too).
    await add_call(pool, "late-1", at=_local(day2, 10.5), phone="+79035550001", outcome="missed", reason="busy")
    await changed("a call written late")
    # An outcome corrected.
    await pool.execute("UPDATE calls SET outcome = 'answered', reason = '', manager_id = $1 WHERE linkedid = 'late-1'",
                       managers[0])
    await changed("an outcome corrected")
    # A callback reached two days later, by an outbound call: the day of the missed calls changes.
    task = await pool.fetchrow("SELECT t.id, t.phone FROM tasks t JOIN calls c ON c.callback_task_id = t.id "
                               "WHERE t.status = 'open' AND c.started_at >= $1 AND c.started_at < $2 LIMIT 1",
                               _local(day2, 0), _local(day2, 24))
    if task is None:
        await add_call(pool, "late-2", at=_local(day2, 12), phone="+79035550002", outcome="missed", reason="busy")
        await changed("another late call")
        task = await pool.fetchrow("SELECT id, phone FROM tasks WHERE phone = '+79035550002'")
    assert task is not None
    await add_call(pool, "callback-1", direction="outbound", at=AFTER - timedelta(hours=1), phone=task["phone"],
                   outcome="answered", manager_id=managers[1])
    assert await pool.fetchval("SELECT outcome FROM tasks WHERE id = $1", task["id"]) == "reached"
    await changed("a callback reached later")
    # The callback reassigned; then the reaching call's start corrected.
    await pool.execute("UPDATE tasks SET assignee_id = $2 WHERE id = $1", task["id"], managers[2])
    await changed("a callback reassigned")
    await pool.execute("UPDATE calls SET started_at = started_at - interval '1 day' WHERE linkedid = 'callback-1'")
    await changed("the reaching call's start corrected")
    # A call recognised as the shop's self-check after its day was rolled up (crm/self_check/): it stops counting.
    run = await pool.fetchval("INSERT INTO self_check_runs (linkedid, did, caller, wait_s) "
                              "VALUES ('self-1', '74951234501', '+79990000000', 10) RETURNING id")
    await pool.execute("UPDATE calls SET self_check_run_id = $1 WHERE id = (SELECT id FROM calls "
                       "WHERE started_at >= $2 AND started_at < $3 AND direction = 'inbound' ORDER BY id DESC LIMIT 1)",
                       run, _local(day2, 0), _local(day2, 24))
    await changed("a self-check call recognised")
    # A call deleted.
    await pool.execute("DELETE FROM calls WHERE linkedid = (SELECT linkedid FROM calls WHERE started_at >= $1 "
                       "AND started_at < $2 AND direction = 'inbound' ORDER BY id LIMIT 1)",
                       _local(day2, 0), _local(day2, 24))
    await changed("a call deleted")
    # An update that changes nothing leaves the day clean.
    await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    await pool.execute("UPDATE calls SET outcome = outcome WHERE started_at >= $1 AND started_at < $2",
                       _local(day2, 0), _local(day2, 24))
    assert day2 in (await audit_rollup.plan_range(pool, *whole, MOSCOW)).days


async def test_days_follow_the_shop_time_zone_and_its_clock_changes(pool: Pool, make_manager: MakeManager) -> None:
    # 21:00 UTC is midnight in Moscow: a call a second before is the day before's.
    midnight = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)
    await add_call(pool, "before", at=midnight - timedelta(seconds=1), phone="+79035550011", outcome="missed",
                   reason="busy")
    await add_call(pool, "after", at=midnight, phone="+79035550012", outcome="missed", reason="no_answer")
    await add_call(pool, "noon", at=midnight + timedelta(hours=15), phone="+79035550013", outcome="answered")
    await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    days = {r["day"]: r["inbound"] for r in await pool.fetch("SELECT day, inbound FROM audit_rollup_days "
                                                             "WHERE zone = $1", MOSCOW)}
    assert days[date(2026, 11, 18)] == 1 and days[date(2026, 11, 19)] == 2
    hours = await audit.missed_calls_audit(pool, midnight - timedelta(days=1), midnight + timedelta(days=1))
    assert hours.missed_per_hour[23] == 1 and hours.missed_per_hour[0] == 1
    # The shop moves to India (UTC+05:30): the roll-up follows, Moscow's rows go.
    await audit_rollup.refresh(pool, "Asia/Kolkata", now=AFTER)
    assert await pool.fetchval("SELECT count(*) FROM audit_rollup_days WHERE zone <> 'Asia/Kolkata'") == 0
    kolkata = ZoneInfo("Asia/Kolkata")
    day = datetime.combine(date(2026, 11, 19), time(), kolkata)
    assert (await audit_rollup.plan_range(pool, day, day + timedelta(days=1), "Asia/Kolkata")).days == [day.date()]
    await assert_same_figures(pool, day - timedelta(days=1), day + timedelta(days=1), "Asia/Kolkata")
    # Berlin's clock changes: a 23-hour and a 25-hour day, each rolled up whole.
    berlin = "Europe/Berlin"
    await seed_history(pool, make_manager, seed=5, calls=80, zone=berlin)
    clock_changes = [datetime(2026, 3, 27, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
                     datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                     datetime(2026, 10, 25, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 22, 59, tzinfo=UTC),
                     datetime(2026, 10, 25, 23, 0, tzinfo=UTC)]
    for n, at in enumerate(clock_changes):
        await add_call(pool, f"dst-{n}", at=at, phone=f"+7903555009{n}", outcome="missed", reason="busy")
    await audit_rollup.refresh(pool, berlin, now=AFTER, max_seconds=None)
    lengths = {r["day"]: r["hours"] for r in await pool.fetch(
        "SELECT day, extract(epoch FROM day_end - day_start) / 3600 AS hours FROM audit_rollup_days "
        "WHERE day IN ('2026-03-29', '2026-10-25')")}
    assert lengths == {date(2026, 3, 29): 23, date(2026, 10, 25): 25}
    for low, high in [(date(2026, 3, 28), date(2026, 3, 31)), (date(2026, 10, 24), date(2026, 10, 27)),
                      (FIRST_DAY, FIRST_DAY + timedelta(days=DAYS))]:
        start, end = (datetime.combine(d, time(), ZoneInfo(berlin)) for d in (low, high))
        assert len((await audit_rollup.plan_range(pool, start, end, berlin)).days) == (end - start).days
        await assert_same_figures(pool, start, end, berlin)


async def test_rolling_up_twice_or_in_two_workers_at_once_leaves_the_same_rows(
        pool: Pool, make_manager: MakeManager) -> None:
    await seed_history(pool, make_manager, seed=23, calls=150)
    await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    once = await rollup_rows(pool)
    days = [r["day"] for r in await pool.fetch("SELECT day FROM audit_rollup_days")]
    await audit_rollup.rollup_days(pool, MOSCOW, days)
    assert await rollup_rows(pool) == once
    # Two workers at once: one recomputes every day, the other refreshes from scratch.
    await pool.execute("DELETE FROM audit_rollup_days WHERE day > $1", FIRST_DAY + timedelta(days=2))
    await pool.execute("UPDATE audit_rollup_days SET dirty = true")
    await asyncio.gather(audit_rollup.rollup_days(pool, MOSCOW, days), audit_rollup.refresh(pool, MOSCOW, now=AFTER),
                         audit_rollup.refresh(pool, MOSCOW, now=AFTER, batch_days=1))
    assert await rollup_rows(pool) == once
    # Emptied call tables empty the roll-up.
    await pool.execute("TRUNCATE calls CASCADE")
    assert await pool.fetchval("SELECT count(*) FROM audit_rollup_days") == 0


async def test_a_time_budget_leaves_the_rest_for_the_next_run(pool: Pool, make_manager: MakeManager) -> None:
    await seed_history(pool, make_manager, seed=2, calls=40)
    first = await audit_rollup.refresh(pool, MOSCOW, now=AFTER, batch_days=1, max_seconds=0.0)
    assert first.days == 1 and first.left > 0  # one batch always, the rest later
    second = await audit_rollup.refresh(pool, MOSCOW, now=AFTER)
    assert second.days == first.left and second.left == 0
    newest = await pool.fetchval("SELECT max(day) FROM audit_rollup_days")
    assert newest == (AFTER.astimezone(ZoneInfo(MOSCOW)).date() - timedelta(days=1))


async def test_the_minutely_job_rolls_up_in_the_shop_zone(pool: Pool, db_dsn: str, make_manager: MakeManager) -> None:
    await seed_history(pool, make_manager, seed=4, calls=30)
    app = job_app(db_dsn)
    env = {"env": JobEnvironment(pool, LocalBus(LiveHub()), timezone="Asia/Kolkata")}
    async with app.open_async():
        await app.configure_task("audit_rollup_tick").defer_async(timestamp=int(AFTER.timestamp()))
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context=env)
    assert await pool.fetchval("SELECT status::text FROM procrastinate_jobs WHERE task_name = 'audit_rollup_tick'"
                               ) == "succeeded"
    start = datetime.combine(FIRST_DAY, time(), ZoneInfo("Asia/Kolkata"))
    plan = await audit_rollup.plan_range(pool, start, start + timedelta(days=DAYS), "Asia/Kolkata")
    assert len(plan.days) == DAYS and plan.raw == []

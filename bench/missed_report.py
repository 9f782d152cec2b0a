"""Benchmark: the head of sales' audit (crm/audit.py, the /audit page and GET /api/v1/reports/missed-calls)
over a large call history.

The data: `--calls` inbound calls (10,000,000 by default) spread evenly over `--days` days (730: about
13,700 calls a day, a large contact centre), written straight into PostgreSQL with `generate_series`:
85 % answered, the rest missed for the usual reasons, 5 numbers, 40 managers; every missed call has its
callback task, 70 % of them reached (half within the deadline), the rest still open. The report is then
run for a 30-day range (about 411,000 calls in it), each run on a range shifted by a day so no two runs
read the same rows from cache alone. The figure is the whole `missed_calls_audit` call: every query the
page runs. The peer, measured on the same database in the same run: one `count(*)` over the same range,
the floor of any report that reads the calls. Median, p99 and max over `--runs` ranges; the last line is
one JSON object.

The calls are written with the roll-up's triggers on (migration 0022: the fill pays their marks), then the
daily roll-up is built the way the service's minutely job builds it, `crm.audit_rollup.refresh` (its time is
`rollup_s`, apart from `fill_s`), and `rollup_day_ms` is what recomputing one day costs the job when a day's
calls change. The ranges are UTC days while the shop's days are Moscow's: each report reads two partial
days (21 h and 3 h) from the calls and 29 whole days from the roll-up.

    python bench/missed_report.py            # 10,000,000 calls, 15 reports (data: several minutes)
    python bench/missed_report.py --quick    # 300,000 calls, 5 reports, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, emit_json, machine_info, percentile  # noqa: E402
from crm import audit, audit_rollup, database  # noqa: E402

END = datetime(2026, 11, 30, tzinfo=UTC)
MANAGERS = 40
ZONE = "Europe/Moscow"  # the audit's default, the shop's days

FILL_CALLS = """
INSERT INTO calls (linkedid, direction, caller, did, started_at, ended_at, answered_at, outcome, reason,
                   customer_e164, manager_id, ring_s, talk_s, queue, operator_extension, answered_by, closed_by)
SELECT 'bench-' || g, 'inbound', '7916' || lpad((g % 900000)::text, 7, '0'),
       '7495123450' || (g % 5 + 1),
       t, t + interval '90 seconds',
       CASE WHEN h % 100 < 85 THEN t + make_interval(secs => h % 25) END,
       CASE WHEN h % 100 < 85 THEN 'answered' ELSE 'missed' END,
       CASE WHEN h % 100 < 85 THEN ''
            ELSE (ARRAY['no_answer', 'busy', 'abandoned', 'queue_timeout', 'after_hours'])[h % 5 + 1] END,
       '+7916' || lpad((g % 900000)::text, 7, '0'),
       (SELECT ids[h % $4 + 1] FROM (SELECT array_agg(id ORDER BY id) AS ids FROM managers) m),
       (h % 40)::float8, CASE WHEN h % 100 < 85 THEN (h % 600)::float8 END,
       CASE WHEN h % 7 = 0 THEN 'sales' ELSE '' END, '', '', 'pbx'
FROM (SELECT g, $1::timestamptz + (g - 1) * $2::interval AS t, (g * 2654435761::bigint) % 1000003 AS h
      FROM generate_series(1, $3::bigint) g) s
"""

FILL_TASKS = """
WITH missed AS (
    SELECT id, customer_e164, started_at, manager_id, row_number() OVER (ORDER BY id) AS n
    FROM calls WHERE outcome = 'missed'
)
INSERT INTO tasks (kind, title, assignee_id, due_at, status, outcome, phone, missed_calls, last_missed_at, call_id,
                   reached_call_id, created_at, closed_at)
SELECT 'callback', 'Перезвонить', manager_id, started_at + interval '5 minutes',
       CASE WHEN n % 10 < 7 THEN 'done' ELSE 'cancelled' END, CASE WHEN n % 10 < 7 THEN 'reached' ELSE 'manual' END,
       NULL, 1, started_at, id, CASE WHEN n % 10 < 7 THEN id END, started_at, started_at + interval '1 hour'
FROM missed
"""


async def fill(dsn: str, calls: int, days: int) -> None:
    conn = await database.connect(dsn)
    try:
        if await conn.fetchval("SELECT count(*) FROM calls WHERE linkedid LIKE 'bench-%'") >= calls:
            return
        await conn.execute("TRUNCATE calls CASCADE")
        for i in range(MANAGERS):
            await conn.execute("INSERT INTO managers (login, display_name, role, password_hash) "
                               "VALUES ($1, $2, 'operator', 'x') ON CONFLICT DO NOTHING", f"bench{i}", f"Менеджер {i}")
        start = END - timedelta(days=days)
        step = timedelta(seconds=days * 86400 / calls)
        await conn.execute(FILL_CALLS, start, step, calls, MANAGERS)
        await conn.execute(FILL_TASKS)
        # A missed call points at its callback, as crm/callbacks.py leaves it (a reached one: at itself, cheaply).
        await conn.execute("UPDATE calls c SET callback_task_id = t.id FROM tasks t WHERE t.call_id = c.id")
        await conn.execute("VACUUM ANALYZE calls")  # the visibility map too: index-only scans, as in a live shop
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def build_rollup(pool: database.Pool) -> tuple[float, float]:
    """The roll-up as the minutely job builds it (every complete day up to END), then one day recomputed
    a few times (a late call's cost): seconds for the whole, milliseconds for a day (median)."""
    t0 = time.perf_counter()
    while (await audit_rollup.refresh(pool, ZONE, now=END + timedelta(days=1))).left:
        pass
    rollup_s = time.perf_counter() - t0
    for table in ("audit_rollup_days", *audit_rollup.TABLES):
        await pool.execute(f"VACUUM ANALYZE {table}")
    day = (END - timedelta(days=3)).date()
    day_ms: list[float] = []
    for _ in range(5):
        t = time.perf_counter()
        await audit_rollup.rollup_days(pool, ZONE, [day])
        day_ms.append((time.perf_counter() - t) * 1000)
    return rollup_s, statistics.median(day_ms)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_database() as db:
        t0 = time.perf_counter()
        await fill(db.dsn, args.calls, args.days)
        fill_s = time.perf_counter() - t0
        pool = await database.create_pool(db.dsn, min_size=4, max_size=10)  # the service's default size
        try:
            rollup_s, rollup_day_ms = await build_rollup(pool)
            print(f"data {fill_s:.0f} s, roll-up {rollup_s:.1f} s, one day again {rollup_day_ms:.0f} ms", flush=True)
            report_ms: list[float] = []
            peer_ms: list[float] = []
            for i in range(args.runs):
                end = END - timedelta(days=i)
                start = end - timedelta(days=30)
                t = time.perf_counter()
                figures = await audit.missed_calls_audit(pool, start, end)
                report_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await pool.fetchval("SELECT count(*) FROM calls c WHERE c.direction = 'inbound' "
                                    "AND c.started_at >= $1 AND c.started_at < $2", start, end)
                peer_ms.append((time.perf_counter() - t) * 1000)
                print(f"range {i + 1}: {figures.inbound} calls, report {report_ms[-1]:.0f} ms, "
                      f"count(*) {peer_ms[-1]:.0f} ms", flush=True)
            info = await machine_info(pool)
        finally:
            await pool.close()
    return {"bench": "missed_report", "calls": args.calls, "days": args.days, "range_days": 30, "runs": args.runs,
            "fill_s": round(fill_s, 1), "rollup_s": round(rollup_s, 1), "rollup_day_ms": round(rollup_day_ms, 1),
            "report_p50_ms": round(statistics.median(report_ms), 1),
            "report_p99_ms": round(percentile(report_ms, 99), 1), "report_max_ms": round(max(report_ms), 1),
            "peer_count_p50_ms": round(statistics.median(peer_ms), 1), "machine": info}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="300,000 calls over 30 days, 5 reports")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args(argv)
    args.calls = args.calls or (300_000 if args.quick else 10_000_000)
    args.days = args.days or (60 if args.quick else 730)
    args.runs = args.runs or (5 if args.quick else 15)
    from web.event_loop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        result = runner.run(run(args))
    emit_json(result)


if __name__ == "__main__":
    main()

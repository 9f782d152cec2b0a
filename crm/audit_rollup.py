"""The audit's daily roll-up: per day of the shop's time zone, the figures of crm/audit.py over that day's calls.

A 30-day audit over a busy shop reads 411,000 calls nine times; from the roll-up it sums 30 days of rows
per figure and reads from the calls only what the roll-up cannot answer for: the partial days at the edges
of the range and any day not rolled up or not clean. So the figures stay exactly what the calls say:

- A day is recomputed whole from the calls (delete its rows, insert them again, one transaction): doing it
  twice, or in two workers at once, leaves the same rows. Recomputations and the taking of marks hold one
  transaction-level advisory lock, so they never interleave.
- Every write to `calls` or `tasks` that touches what the audit reads leaves a mark (its UTC hour in
  `audit_dirty_hours`), written by a trigger in the writer's own transaction (migration 0022): a late CDR,
  a recovered call, an outcome corrected, a callback reached or reassigned days later. A day that a mark
  overlaps is not clean: the audit reads it from the calls until `refresh` has taken the mark (flagging the
  day dirty in the same transaction) and recomputed the day.
- `refresh` (the minutely job, or the benchmark) takes the marks, recomputes the dirty days, then rolls up
  the complete days never rolled up (history, calls imported by recovery), newest first, within a time
  budget. Today is never rolled up: its calls are still coming, it is read from the calls.
- Callback tasks are counted once per range however many days their missed calls span: a task whose
  missed calls all fall on one day is summed in that day's row (its delay kept exactly, for the median);
  a task spanning days is only listed per day and counted from the tasks by the audit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from crm.database import Connection, Pool

#: The advisory lock of recomputations and mark taking (transaction level: nothing stays on the connection).
ROLLUP_LOCK = 0x70657A61
TABLES = ("audit_rollup_numbers", "audit_rollup_reasons", "audit_rollup_hours", "audit_rollup_managers",
          "audit_rollup_spanning")



def counted(alias: str) -> str:
    """A call the audit counts: inbound, ended, and not a self-check call (crm/self_check/: the shop testing
    itself, not a caller)."""
    return f"{alias}.direction = 'inbound' AND {alias}.outcome IS NOT NULL AND {alias}.self_check_run_id IS NULL"


# The days $2 in zone $1 with their bounds, and their calls exactly as the audit's range selects them, read once
# per recomputation; [$3, $4) spans the days (constants: the planner reads the calls' index over that range).
DAYS = """d AS MATERIALIZED (SELECT day, day::timestamp AT TIME ZONE $1 AS s, (day + 1)::timestamp AT TIME ZONE $1 AS e
                     FROM unnest($2::date[]) AS day)"""
DAY_CALLS = f"""dc AS MATERIALIZED (
    SELECT d.day, d.s, d.e, c.started_at, c.outcome, c.reason, c.did, c.manager_id, c.ring_s, c.queue,
           c.callback_task_id
    FROM d JOIN calls c ON {counted('c')} AND c.started_at >= d.s AND c.started_at < d.e
                          AND c.started_at >= $3 AND c.started_at < $4)"""
SPAN = ("SELECT min(day::timestamp AT TIME ZONE $1), max((day + 1)::timestamp AT TIME ZONE $1) "
        "FROM unnest($2::date[]) AS day")
MISSED = "c.outcome IN ('missed', 'lost')"
#: The answer-speed buckets' bounds (crm.audit.ANSWER_BUCKETS): width_bucket gives 0..5.
RING_THRESHOLDS = "ARRAY[5, 10, 20, 30, 60]::float8[]"
SPEED = ", ".join(f"count(*) FILTER (WHERE c.outcome = 'answered' AND width_bucket(c.ring_s, {RING_THRESHOLDS}) = {b})"
                  for b in range(6))

CLEAN_DAYS = """
SELECT d.day, d.day_start, d.day_end FROM audit_rollup_days d
WHERE d.zone = $1 AND d.day_start >= $2 AND d.day_end <= $3 AND NOT d.dirty
  AND NOT EXISTS (SELECT 1 FROM audit_dirty_hours h
                  WHERE h.hour < d.day_end AND h.hour > d.day_start - interval '1 hour')
ORDER BY d.day_start
"""

TAKE_MARKS = """
WITH taken AS (DELETE FROM audit_dirty_hours RETURNING hour),
flagged AS (UPDATE audit_rollup_days d SET dirty = true FROM taken
            WHERE taken.hour < d.day_end AND taken.hour > d.day_start - interval '1 hour' AND NOT d.dirty
            RETURNING 1)
SELECT (SELECT count(*) FROM taken) AS marks, (SELECT count(*) FROM flagged) AS flagged
"""

# Complete days from the first call (or callback) on, not clean: never rolled up, dirty, or with bounds that
# a time zone database update has moved.
TO_ROLL = """
WITH first AS (SELECT least((SELECT min(started_at) FROM calls WHERE direction = 'inbound'),
                            (SELECT min(last_missed_at) FROM tasks WHERE kind = 'callback')) AS at),
span AS (SELECT g::date AS day FROM first,
         generate_series((first.at AT TIME ZONE $1)::date, ($2::timestamptz AT TIME ZONE $1)::date - 1,
                         interval '1 day') AS g
         WHERE first.at IS NOT NULL)
SELECT s.day FROM span s LEFT JOIN audit_rollup_days r ON r.zone = $1 AND r.day = s.day
WHERE r.day IS NULL OR r.dirty OR r.day_start <> (s.day::timestamp AT TIME ZONE $1)
   OR r.day_end <> ((s.day + 1)::timestamp AT TIME ZONE $1)
UNION SELECT day FROM audit_rollup_days WHERE zone = $1 AND dirty
ORDER BY day DESC
"""

# One statement recomputes the days: each data-modifying part runs once, over the same snapshot.
ROLLUP = f"""
WITH {DAYS}, {DAY_CALLS}, numbers AS (
    INSERT INTO audit_rollup_numbers (zone, day, did, inbound, answered, missed)
    SELECT $1, c.day, c.did, count(*), count(*) FILTER (WHERE c.outcome = 'answered'),
           count(*) FILTER (WHERE {MISSED})
    FROM dc c GROUP BY c.day, c.did
), reasons AS (
    INSERT INTO audit_rollup_reasons (zone, day, reason, missed)
    SELECT $1, c.day, c.reason, count(*) FROM dc c WHERE {MISSED} GROUP BY c.day, c.reason
), hours AS (
    INSERT INTO audit_rollup_hours (zone, day, hour, dow, missed)
    SELECT $1, c.day, extract(hour FROM c.started_at AT TIME ZONE $1)::int,
           extract(isodow FROM c.started_at AT TIME ZONE $1)::int, count(*)
    FROM dc c WHERE {MISSED} GROUP BY 1, 2, 3, 4
), managers AS (
    INSERT INTO audit_rollup_managers (zone, day, manager_id, taken, missed_assigned, callbacks_on_time,
                                       callbacks_late)
    SELECT $1, day, id, sum(taken), sum(missed), sum(on_time), sum(late) FROM (
        SELECT c.day, c.manager_id AS id, count(*) AS taken, 0 AS missed, 0 AS on_time, 0 AS late
        FROM dc c WHERE c.outcome = 'answered' AND c.manager_id IS NOT NULL GROUP BY 1, 2
        UNION ALL
        SELECT c.day, t.assignee_id, 0, count(*), 0, 0
        FROM dc c JOIN tasks t ON t.id = c.callback_task_id
        WHERE {MISSED} AND t.assignee_id IS NOT NULL GROUP BY 1, 2
        UNION ALL
        SELECT d.day, t.assignee_id, 0, 0, count(*) FILTER (WHERE rc.started_at <= t.due_at),
               count(*) FILTER (WHERE rc.started_at > t.due_at)
        FROM d JOIN tasks t ON t.kind = 'callback' AND t.outcome = 'reached' AND t.last_missed_at >= d.s
                               AND t.last_missed_at < d.e AND t.last_missed_at >= $3 AND t.last_missed_at < $4
        JOIN calls rc ON rc.id = t.reached_call_id
        WHERE t.assignee_id IS NOT NULL GROUP BY 1, 2
    ) x GROUP BY day, id
), totals AS (
    SELECT c.day, count(*) AS inbound, count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
           count(*) FILTER (WHERE {MISSED}) AS missed, count(*) FILTER (WHERE c.queue <> '') AS queued,
           count(*) FILTER (WHERE c.queue <> '' AND c.reason IN ('abandoned', 'queue_timeout')) AS abandoned,
           ARRAY[{SPEED}] AS speed
    FROM dc c GROUP BY c.day
), tk AS (
    -- The day's callback tasks, the audit's own expressions for each, and whether all its missed calls fell
    -- on the day (else it goes to audit_rollup_spanning).
    SELECT k.day, k.id, t.outcome, t.due_at, rc.started_at AS reached_at, m.missed_at,
           m.first_at >= k.s AND m.last_at < k.e AS single
    FROM (SELECT DISTINCT c.day, c.s, c.e, c.callback_task_id AS id FROM dc c
          WHERE {MISSED} AND c.callback_task_id IS NOT NULL) k
    JOIN tasks t ON t.id = k.id LEFT JOIN calls rc ON rc.id = t.reached_call_id
    CROSS JOIN LATERAL (
        SELECT min(coalesce(mc.ended_at, mc.started_at)) AS missed_at,
               min(mc.started_at) FILTER (WHERE {counted('mc')} AND mc.outcome IN ('missed', 'lost')) AS first_at,
               max(mc.started_at) FILTER (WHERE {counted('mc')} AND mc.outcome IN ('missed', 'lost')) AS last_at
        FROM calls mc WHERE mc.callback_task_id = k.id) m
), spanning AS (
    INSERT INTO audit_rollup_spanning (zone, day, task_id) SELECT $1, day, id FROM tk WHERE NOT single
), cb AS (
    SELECT day, count(*) AS tasks, count(*) FILTER (WHERE outcome = 'reached') AS reached,
           count(*) FILTER (WHERE outcome = 'reached' AND reached_at <= due_at) AS on_time,
           array_agg(extract(epoch FROM reached_at - missed_at)::float8 ORDER BY reached_at - missed_at, id)
               FILTER (WHERE outcome = 'reached') AS delays
    FROM tk WHERE single GROUP BY day
)
INSERT INTO audit_rollup_days (zone, day, day_start, day_end, dirty, rolled_at, inbound, answered, missed, queued,
                               abandoned_in_queue, answer_speed, cb_tasks, cb_reached, cb_on_time, cb_delays)
SELECT $1, d.day, d.s, d.e, false, now(), coalesce(t.inbound, 0), coalesce(t.answered, 0), coalesce(t.missed, 0),
       coalesce(t.queued, 0), coalesce(t.abandoned, 0), coalesce(t.speed, '{{0,0,0,0,0,0}}'),
       coalesce(cb.tasks, 0), coalesce(cb.reached, 0), coalesce(cb.on_time, 0), coalesce(cb.delays, '{{}}')
FROM d LEFT JOIN totals t ON t.day = d.day LEFT JOIN cb ON cb.day = d.day
ON CONFLICT (zone, day) DO UPDATE SET
    day_start = EXCLUDED.day_start, day_end = EXCLUDED.day_end, dirty = false, rolled_at = EXCLUDED.rolled_at,
    inbound = EXCLUDED.inbound, answered = EXCLUDED.answered, missed = EXCLUDED.missed, queued = EXCLUDED.queued,
    abandoned_in_queue = EXCLUDED.abandoned_in_queue, answer_speed = EXCLUDED.answer_speed,
    cb_tasks = EXCLUDED.cb_tasks, cb_reached = EXCLUDED.cb_reached, cb_on_time = EXCLUDED.cb_on_time,
    cb_delays = EXCLUDED.cb_delays
"""

#: In the audit's SQL: "`column` lies in the part of the range read from the calls".
_RAW_RANGE = re.compile(r"RAW_RANGE\((?P<column>[a-z_.]+)\)")


@dataclass(frozen=True)
class RangePlan:
    """How the audit reads [start, end): whole clean days from the roll-up, the rest from the calls."""

    days: list[date]
    raw: list[tuple[datetime, datetime]]

    def args(self, zone: str) -> tuple[object, ...]:
        """The queries' parameters: $1 the zone, $2 the days, then each raw interval's bounds."""
        return (zone, self.days, *(bound for interval in self.raw for bound in interval))

    def sql(self, query: str) -> str:
        """`query` with each RAW_RANGE(column) written out as the raw intervals, their bounds as parameters
        (not an array joined: the planner then sees each as a range of its index, not a third of the table)."""
        def condition(match: re.Match[str]) -> str:
            column = match["column"]
            return " OR ".join(f"({column} >= ${3 + 2 * i} AND {column} < ${4 + 2 * i})"
                               for i in range(len(self.raw))) or "false"

        return _RAW_RANGE.sub(condition, query)


@dataclass(frozen=True)
class RefreshResult:
    marks: int
    #: Days recomputed, and days still waiting when the time budget ran out.
    days: int
    left: int


def uncovered(start: datetime, end: datetime, covered: Sequence[tuple[datetime, datetime]]
              ) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) outside the `covered` intervals (sorted by start, inside the range)."""
    gaps: list[tuple[datetime, datetime]] = []
    at = start
    for low, high in covered:
        if low > at:
            gaps.append((at, low))
        at = max(at, high)
    if at < end:
        gaps.append((at, end))
    return gaps


async def plan_range(pool: Pool | Connection, start: datetime, end: datetime, zone: str) -> RangePlan:
    """The clean rolled-up days inside [start, end) and the intervals left to read from the calls."""
    days: list[date] = []
    covered: list[tuple[datetime, datetime]] = []
    for r in await pool.fetch(CLEAN_DAYS, zone, start, end):
        if covered and r["day_start"] < covered[-1][1]:
            continue  # overlapping bounds (a time zone rule changed between roll-ups): never count twice
        days.append(r["day"])
        covered.append((r["day_start"], r["day_end"]))
    return RangePlan(days, uncovered(start, end, covered))


async def rollup_days(pool: Pool, zone: str, days: Sequence[date]) -> None:
    """Recompute the roll-up of `days` in `zone` from the calls and tasks, in one transaction (idempotent)."""
    unique = sorted(set(days))
    if not unique:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK)
        span = await conn.fetchrow(SPAN, zone, unique)
        assert span is not None
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE zone = $1 AND day = ANY($2::date[])", zone, unique)
        await conn.execute(ROLLUP, zone, unique, span[0], span[1])


async def take_marks(pool: Pool, zone: str) -> int:
    """Turn the marks into dirty days (one transaction: a day is never clean between the two); drop the rows
    of other time zones (the shop's changed)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK)
        row = await conn.fetchrow(TAKE_MARKS)
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM audit_rollup_days WHERE zone <> $1)", zone):
            for table in ("audit_rollup_days", *TABLES):
                await conn.execute(f"DELETE FROM {table} WHERE zone <> $1", zone)
    assert row is not None
    return int(row["marks"])


async def refresh(pool: Pool, zone: str, *, now: datetime | None = None, batch_days: int = 7,
                  max_seconds: float | None = None) -> RefreshResult:
    """Bring the roll-up up to date: marks taken, dirty days recomputed, complete days not yet rolled up
    rolled up (newest first), in batches of `batch_days`, until done or `max_seconds` have passed."""
    began = time.monotonic()
    marks = await take_marks(pool, zone)
    moment = now or await pool.fetchval("SELECT now()")
    todo = [r["day"] for r in await pool.fetch(TO_ROLL, zone, moment)]
    done = 0
    for batch in _batches(todo, batch_days):
        if max_seconds is not None and done and time.monotonic() - began > max_seconds:
            break
        await rollup_days(pool, zone, batch)
        done += len(batch)
    return RefreshResult(marks, done, len(todo) - done)


def _batches(days: Sequence[date], size: int) -> list[list[date]]:
    """`days` (newest first) in batches of consecutive days, at most `size` each: a batch reads one range of
    calls, never the months between two dirty days."""
    batches: list[list[date]] = []
    for day in days:
        if batches and len(batches[-1]) < size and (batches[-1][-1] - day).days == 1:
            batches[-1].append(day)
        else:
            batches.append([day])
    return batches

"""The head of sales' audit of missed calls: the figures that prove (or disprove) that every caller is called back.

For a range of days (inbound calls started in it; the shop's time zone decides the days and hours):
totals and missed by reason; per dialled number, sales channel and manager: calls, answered, missed,
missed rate; callbacks: the share of missed numbers called back within the deadline, median and p90
time to the callback; the never-called-back list, oldest first; how fast calls were answered; how
many callers gave up in the queue; missed calls per hour of day and per weekday.

"Called back" is the callback task of crm/callbacks.py closed as reached: the first answered call with
that number after the missed one. A number missed several times counts once (its task covers them).
Self-check calls (crm/self_check/) are the shop testing itself and never count.

Whole days of the range come from the daily roll-up where it is up to date (crm/audit_rollup.py), the
rest (the partial days at the edges, today, days whose calls changed since) from the calls: the figures
are the same either way, only the time to read them differs. What cannot be summed per day is read live
and bounded: the callbacks overdue now and the never-called-back list start from the open tasks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from crm import audit_rollup
from crm.audit_rollup import RING_THRESHOLDS, counted
from crm.database import Pool

ANSWER_BUCKETS = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 60), (60, None))


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: a manager, a number or a channel."""

    key: str
    label: str
    inbound: int
    answered: int
    missed: int

    @property
    def missed_rate(self) -> float:
        return self.missed / self.inbound if self.inbound else 0.0


@dataclass(frozen=True)
class ManagerRow:
    manager_id: int
    name: str
    taken: int
    missed_while_assigned: int
    callbacks_on_time: int
    callbacks_late: int
    overdue_now: int


@dataclass(frozen=True)
class NeverCalledBack:
    task_id: int
    phone: str
    customer_id: int | None
    customer_name: str | None
    missed_calls: int
    first_missed_at: datetime
    assignee_name: str | None


@dataclass(frozen=True)
class Audit:
    start: datetime
    end: datetime
    inbound: int
    answered: int
    missed: int
    missed_by_reason: dict[str, int]
    by_number: list[Row]
    by_channel: list[Row]
    by_manager: list[ManagerRow]
    #: Missed numbers with a callback task, those reached, and reached before the deadline.
    callback_tasks: int
    reached: int
    reached_on_time: int
    callback_median_s: float | None
    callback_p90_s: float | None
    #: Seconds from each reached number's missed call to the call that reached it.
    callback_delays_s: list[float]
    never_called_back: list[NeverCalledBack]
    #: (label, count) of answered calls by ring time.
    answer_speed: list[tuple[str, int]]
    queued: int
    abandoned_in_queue: int
    missed_per_hour: list[int]
    missed_per_weekday: list[int]

    @property
    def missed_rate(self) -> float:
        return self.missed / self.inbound if self.inbound else 0.0

    @property
    def on_time_share(self) -> float:
        return self.reached_on_time / self.callback_tasks if self.callback_tasks else 0.0


MISSED = "c.outcome IN ('missed', 'lost')"
# Each figure sums the roll-up's clean days ($2, in zone $1) and counts the calls of the rest of the range (the
# partial days at its edges, days not rolled up or not clean) as it always has: RAW_RANGE(column) is written out
# as those intervals' bounds ($3, $4, ...) by RangePlan.sql, so the planner sees each as an index range; the
# calls read once per query (materialized: no bitmap of every missed call's callback ANDed in).
RAW = f"""raw AS MATERIALIZED (
    SELECT c.started_at, c.outcome, c.reason, c.did, c.manager_id, c.ring_s, c.queue, c.callback_task_id
    FROM calls c WHERE {counted('c')} AND (RAW_RANGE(c.started_at)))"""
ROLLED = "zone = $1 AND day = ANY ($2::date[])"

TOTALS = f"""
WITH {RAW}
SELECT coalesce(sum(inbound), 0) AS inbound, coalesce(sum(answered), 0) AS answered,
       coalesce(sum(missed), 0) AS missed, coalesce(sum(queued), 0) AS queued,
       coalesce(sum(abandoned_in_queue), 0) AS abandoned_in_queue
FROM (SELECT inbound, answered, missed, queued, abandoned_in_queue FROM audit_rollup_days WHERE {ROLLED}
      UNION ALL
      SELECT count(*), count(*) FILTER (WHERE c.outcome = 'answered'), count(*) FILTER (WHERE {MISSED}),
             count(*) FILTER (WHERE c.queue <> ''),
             count(*) FILTER (WHERE c.queue <> '' AND c.reason IN ('abandoned', 'queue_timeout'))
      FROM raw c) x
"""

BY_REASON = f"""
WITH {RAW}
SELECT reason, sum(n) AS n
FROM (SELECT reason, missed AS n FROM audit_rollup_reasons WHERE {ROLLED}
      UNION ALL SELECT c.reason, count(*) FROM raw c WHERE {MISSED} GROUP BY c.reason) x
GROUP BY reason ORDER BY n DESC, reason
"""

PER_NUMBER = f"""
WITH {RAW}, per_number AS (
    SELECT did, inbound, answered, missed FROM audit_rollup_numbers WHERE {ROLLED}
    UNION ALL
    SELECT c.did, count(*), count(*) FILTER (WHERE c.outcome = 'answered'), count(*) FILTER (WHERE {MISSED})
    FROM raw c GROUP BY c.did)
"""

BY_NUMBER = f"""{PER_NUMBER}
SELECT x.did AS key, coalesce(n.label, '') AS label, sum(x.inbound) AS inbound, sum(x.answered) AS answered,
       sum(x.missed) AS missed
FROM per_number x LEFT JOIN routing_numbers n ON n.did = x.did
GROUP BY x.did, n.label ORDER BY inbound DESC, key LIMIT 50
"""

BY_CHANNEL = f"""{PER_NUMBER}
SELECT coalesce(n.channel, '') AS key, sum(x.inbound) AS inbound, sum(x.answered) AS answered,
       sum(x.missed) AS missed
FROM per_number x LEFT JOIN routing_numbers n ON n.did = x.did
GROUP BY n.channel ORDER BY inbound DESC, key
"""

# Calls taken, missed calls whose callback is theirs, their callbacks reached on time / late (by when the task
# was last missed), and their callbacks overdue now (live, from the open tasks).
BY_MANAGER = f"""
WITH {RAW}, per_manager AS (
    SELECT manager_id AS id, taken, missed_assigned AS missed, callbacks_on_time AS on_time, callbacks_late AS late
    FROM audit_rollup_managers WHERE {ROLLED}
    UNION ALL
    SELECT c.manager_id, count(*), 0, 0, 0 FROM raw c WHERE c.outcome = 'answered' GROUP BY c.manager_id
    UNION ALL
    SELECT t.assignee_id, 0, count(*), 0, 0 FROM raw c JOIN tasks t ON t.id = c.callback_task_id
    WHERE {MISSED} GROUP BY t.assignee_id
    UNION ALL
    SELECT t.assignee_id, 0, 0, count(*) FILTER (WHERE rc.started_at <= t.due_at),
           count(*) FILTER (WHERE rc.started_at > t.due_at)
    FROM tasks t JOIN calls rc ON rc.id = t.reached_call_id
    WHERE t.kind = 'callback' AND t.outcome = 'reached' AND (RAW_RANGE(t.last_missed_at)) GROUP BY t.assignee_id
), figures AS (
    SELECT id, sum(taken) AS taken, sum(missed) AS missed, sum(on_time) AS on_time, sum(late) AS late
    FROM per_manager GROUP BY id
), overdue AS (
    SELECT t.assignee_id, count(*) AS n FROM tasks t
    WHERE t.kind = 'callback' AND t.status = 'open' AND t.due_at < now() GROUP BY t.assignee_id)
SELECT m.id, m.display_name, coalesce(f.taken, 0) AS taken, coalesce(f.missed, 0) AS missed_while_assigned,
       coalesce(f.on_time, 0) AS on_time, coalesce(f.late, 0) AS late, coalesce(overdue.n, 0) AS overdue_now
FROM managers m LEFT JOIN figures f ON f.id = m.id LEFT JOIN overdue ON overdue.assignee_id = m.id
WHERE m.active AND m.role IN ('operator', 'supervisor')
ORDER BY m.display_name, m.id
"""

# Callback tasks of the range's missed calls, and how they ended. The rolled-up days hold the tasks whose missed
# calls all fell on that day (with their delays); the rest (the raw part's, and tasks spanning days) are counted
# here, once each. The median and p90 are taken over the delays of both, exactly.
CALLBACKS = f"""
WITH {RAW}, ids AS (
    SELECT c.callback_task_id AS id FROM raw c WHERE {MISSED} AND c.callback_task_id IS NOT NULL
    UNION SELECT task_id FROM audit_rollup_spanning WHERE {ROLLED}
), cb AS (
    SELECT t.id, t.outcome, t.due_at, rc.started_at AS reached_at,
           (SELECT min(coalesce(mc.ended_at, mc.started_at)) FROM calls mc
            WHERE mc.callback_task_id = t.id) AS missed_at
    FROM ids JOIN tasks t ON t.id = ids.id LEFT JOIN calls rc ON rc.id = t.reached_call_id
), parts AS (
    SELECT cb_tasks AS tasks, cb_reached AS reached, cb_on_time AS on_time, cb_delays AS delays
    FROM audit_rollup_days WHERE {ROLLED}
    UNION ALL
    SELECT count(*), count(*) FILTER (WHERE outcome = 'reached'),
           count(*) FILTER (WHERE outcome = 'reached' AND reached_at <= due_at),
           coalesce(array_agg(extract(epoch FROM reached_at - missed_at)::float8)
                    FILTER (WHERE outcome = 'reached'), '{{}}')
    FROM cb
), delays AS (SELECT unnest(delays) AS s FROM parts)
SELECT (SELECT sum(tasks) FROM parts) AS tasks, (SELECT sum(reached) FROM parts) AS reached,
       (SELECT sum(on_time) FROM parts) AS on_time,
       (SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY s) FROM delays) AS percentiles,
       (SELECT coalesce(array_agg(greatest(0, s)), '{{}}') FROM delays) AS delays
"""

# From the open tasks (few), each with whether a missed call of the range points at it.
NEVER = f"""
SELECT t.id, t.phone, t.customer_id, cu.name AS customer_name, t.missed_calls,
       (SELECT min(coalesce(mc.ended_at, mc.started_at)) FROM calls mc WHERE mc.callback_task_id = t.id) AS first_at,
       m.display_name AS assignee_name
FROM tasks t LEFT JOIN customers cu ON cu.id = t.customer_id LEFT JOIN managers m ON m.id = t.assignee_id
WHERE t.status = 'open'
  AND EXISTS (SELECT 1 FROM calls c WHERE c.callback_task_id = t.id AND {counted('c')} AND c.started_at >= $1
              AND c.started_at < $2 AND {MISSED})
ORDER BY t.id
"""

ANSWER_SPEED = f"""
WITH {RAW}
SELECT bucket, sum(n) AS n
FROM (SELECT b - 1 AS bucket, n FROM audit_rollup_days, unnest(answer_speed) WITH ORDINALITY AS u (n, b)
      WHERE {ROLLED}
      UNION ALL
      SELECT width_bucket(c.ring_s, {RING_THRESHOLDS}), count(*) FROM raw c
      WHERE c.outcome = 'answered' AND c.ring_s IS NOT NULL GROUP BY 1) x
GROUP BY bucket
"""

MISSED_HOURS = f"""
WITH {RAW}
SELECT hour, dow, sum(n) AS n
FROM (SELECT hour, dow, missed AS n FROM audit_rollup_hours WHERE {ROLLED}
      UNION ALL
      SELECT extract(hour FROM c.started_at AT TIME ZONE $1)::int,
             extract(isodow FROM c.started_at AT TIME ZONE $1)::int, count(*)
      FROM raw c WHERE {MISSED} GROUP BY 1, 2) x
GROUP BY hour, dow
"""


def _bucket_label(low: int, high: int | None) -> str:
    return f"{low}+ s" if high is None else f"{low}–{high} s"


async def missed_calls_audit(pool: Pool, start: datetime, end: datetime, *, zone: str = "Europe/Moscow",
                             never_limit: int = 200) -> Audit:
    """The audit of inbound calls started in [start, end): whole days from the roll-up where it is clean
    (crm/audit_rollup.py), the rest from the calls; the figures are the same either way."""
    plan = await audit_rollup.plan_range(pool, start, end, zone)
    args = plan.args(zone)
    # Independent reads: run side by side on the pool's connections.
    (totals_rows, reason_rows, number_rows, channel_rows, manager_rows, cb_rows, never_rows, speed_rows,
     hour_rows) = await asyncio.gather(
        *(pool.fetch(plan.sql(query), *args) for query in (TOTALS, BY_REASON, BY_NUMBER, BY_CHANNEL, BY_MANAGER,
                                                           CALLBACKS)),
        pool.fetch(NEVER, start, end), pool.fetch(plan.sql(ANSWER_SPEED), *args),
        pool.fetch(plan.sql(MISSED_HOURS), *args))
    totals, cb = totals_rows[0], cb_rows[0]
    median_s, p90_s = cb["percentiles"] or (None, None)
    reasons = {r["reason"] or "unknown": int(r["n"]) for r in reason_rows}
    by_number = [Row(r["key"] or "", r["label"], int(r["inbound"]), int(r["answered"]), int(r["missed"]))
                 for r in number_rows]
    by_channel = [Row(r["key"] or "", r["key"] or "", int(r["inbound"]), int(r["answered"]), int(r["missed"]))
                  for r in channel_rows]
    by_manager = [ManagerRow(r["id"], r["display_name"], int(r["taken"]), int(r["missed_while_assigned"]),
                             int(r["on_time"]), int(r["late"]), int(r["overdue_now"])) for r in manager_rows]
    never = [NeverCalledBack(r["id"], r["phone"], r["customer_id"], r["customer_name"], r["missed_calls"],
                             r["first_at"], r["assignee_name"]) for r in never_rows]
    never.sort(key=lambda n: n.first_missed_at)
    in_bucket = {int(r["bucket"]): int(r["n"]) for r in speed_rows}
    speed = [(_bucket_label(low, high), in_bucket.get(i, 0)) for i, (low, high) in enumerate(ANSWER_BUCKETS)]
    per_hour, per_day = [0] * 24, [0] * 7
    for r in hour_rows:
        per_hour[r["hour"]] += int(r["n"])
        per_day[r["dow"] - 1] += int(r["n"])
    return Audit(
        start=start, end=end, inbound=int(totals["inbound"]), answered=int(totals["answered"]),
        missed=int(totals["missed"]), missed_by_reason=reasons, by_number=by_number, by_channel=by_channel,
        by_manager=by_manager, callback_tasks=int(cb["tasks"]), reached=int(cb["reached"]),
        reached_on_time=int(cb["on_time"]), callback_median_s=median_s, callback_p90_s=p90_s,
        callback_delays_s=list(cb["delays"]), never_called_back=never[:never_limit], answer_speed=speed,
        queued=int(totals["queued"]), abandoned_in_queue=int(totals["abandoned_in_queue"]),
        missed_per_hour=per_hour, missed_per_weekday=per_day)


@dataclass(frozen=True)
class FunnelStage:
    code: str
    title_ru: str
    title_en: str
    reached: int
    #: reached / the previous stage's reached (None for the first stage).
    conversion: float | None
    #: Median hours spent in this status before moving on, per manager name ('' = no manager).
    hours_by_manager: dict[str, float]

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_ru


FUNNEL_REACHED = """
SELECT s.code, s.title_ru, s.title_en, s.is_final, s.position,
       (SELECT count(DISTINCT o.id) FROM orders o
        WHERE o.created_at >= $1 AND o.created_at < $2
          AND (o.status = s.code OR EXISTS (SELECT 1 FROM order_status_history h
                                            WHERE h.order_id = o.id AND h.to_status = s.code))) AS reached
FROM order_statuses s ORDER BY s.position, s.code
"""

# How long each order stayed in each status before its next move, for orders created in the range.
TIME_IN_STAGE = """
WITH moves AS (
    SELECT h.order_id, h.to_status AS status, h.changed_at,
           lead(h.changed_at) OVER (PARTITION BY h.order_id ORDER BY h.changed_at, h.id) AS left_at
    FROM order_status_history h JOIN orders o ON o.id = h.order_id
    WHERE o.created_at >= $1 AND o.created_at < $2
)
SELECT m.status, coalesce(mg.display_name, '') AS manager,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM m.left_at - m.changed_at)) / 3600 AS hours
FROM moves m JOIN orders o ON o.id = m.order_id LEFT JOIN managers mg ON mg.id = o.manager_id
WHERE m.left_at IS NOT NULL
GROUP BY m.status, mg.display_name
"""


async def sales_funnel(pool: Pool, start: datetime, end: datetime) -> list[FunnelStage]:
    """Orders created in [start, end): how many reached each status of the workflow (in its order, the
    non-final path first), the conversion from the stage before, and the median time in each stage per
    manager. A final status off the main path (cancelled, returned) has no conversion."""
    rows = await pool.fetch(FUNNEL_REACHED, start, end)
    hours: dict[str, dict[str, float]] = {}
    for r in await pool.fetch(TIME_IN_STAGE, start, end):
        hours.setdefault(r["status"], {})[r["manager"]] = round(float(r["hours"]), 1)
    stages: list[FunnelStage] = []
    previous: int | None = None
    for r in rows:
        on_path = not r["is_final"] or r["code"] == "completed"
        conversion = (r["reached"] / previous if previous else None) if on_path and previous is not None else None
        stages.append(FunnelStage(r["code"], r["title_ru"], r["title_en"], int(r["reached"]), conversion,
                                  hours.get(r["code"], {})))
        if on_path:
            previous = int(r["reached"])
    return stages

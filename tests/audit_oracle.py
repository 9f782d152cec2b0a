"""The audit's figures the way crm/audit.py computed them before the daily roll-up: every query straight over
the calls and tasks of the range. The roll-up's tests hold the new figures against these, field by field."""

from __future__ import annotations

import asyncio
from datetime import datetime

from crm.audit import ANSWER_BUCKETS, Audit, ManagerRow, NeverCalledBack, Row, _bucket_label
from crm.database import Pool

#: Inbound calls of the range that ended; self-check calls (crm/self_check/) are the shop testing itself, not callers.
RANGE = ("c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2 AND c.outcome IS NOT NULL "
         "AND c.self_check_run_id IS NULL")
MISSED = "c.outcome IN ('missed', 'lost')"

TOTALS = f"""
SELECT count(*) AS inbound, count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
       count(*) FILTER (WHERE {MISSED}) AS missed,
       count(*) FILTER (WHERE c.queue <> '') AS queued,
       count(*) FILTER (WHERE c.queue <> '' AND c.reason IN ('abandoned', 'queue_timeout')) AS abandoned_in_queue
FROM calls c WHERE {RANGE}
"""

BY_REASON = f"SELECT c.reason, count(*) AS n FROM calls c WHERE {RANGE} AND {MISSED} GROUP BY c.reason ORDER BY n DESC"

BY_NUMBER = f"""
SELECT c.did AS key, coalesce(n.label, '') AS label, count(*) AS inbound,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered, count(*) FILTER (WHERE {MISSED}) AS missed
FROM calls c LEFT JOIN routing_numbers n ON n.did = c.did
WHERE {RANGE} GROUP BY c.did, n.label ORDER BY inbound DESC LIMIT 50
"""

BY_CHANNEL = f"""
SELECT coalesce(n.channel, '') AS key, count(*) AS inbound,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered, count(*) FILTER (WHERE {MISSED}) AS missed
FROM calls c LEFT JOIN routing_numbers n ON n.did = c.did
WHERE {RANGE} GROUP BY n.channel ORDER BY inbound DESC
"""

BY_MANAGER = f"""
WITH taken AS (SELECT c.manager_id, count(*) AS n FROM calls c WHERE {RANGE} AND c.outcome = 'answered'
               GROUP BY c.manager_id),
     missed AS (SELECT t.assignee_id, count(*) AS n FROM calls c JOIN tasks t ON t.id = c.callback_task_id
                WHERE {RANGE} AND {MISSED} GROUP BY t.assignee_id),
     reached AS (SELECT t.assignee_id, count(*) FILTER (WHERE rc.started_at <= t.due_at) AS on_time,
                        count(*) FILTER (WHERE rc.started_at > t.due_at) AS late
                 FROM tasks t JOIN calls rc ON rc.id = t.reached_call_id
                 WHERE t.kind = 'callback' AND t.outcome = 'reached' AND t.last_missed_at >= $1
                   AND t.last_missed_at < $2
                 GROUP BY t.assignee_id),
     overdue AS (SELECT t.assignee_id, count(*) AS n FROM tasks t
                 WHERE t.kind = 'callback' AND t.status = 'open' AND t.due_at < now() GROUP BY t.assignee_id)
SELECT m.id, m.display_name, coalesce(taken.n, 0) AS taken, coalesce(missed.n, 0) AS missed_while_assigned,
       coalesce(reached.on_time, 0) AS on_time, coalesce(reached.late, 0) AS late,
       coalesce(overdue.n, 0) AS overdue_now
FROM managers m LEFT JOIN taken ON taken.manager_id = m.id LEFT JOIN missed ON missed.assignee_id = m.id
LEFT JOIN reached ON reached.assignee_id = m.id LEFT JOIN overdue ON overdue.assignee_id = m.id
WHERE m.active AND m.role IN ('operator', 'supervisor')
ORDER BY m.display_name, m.id
"""

# Callback tasks of the range's missed calls, and how they ended.
CALLBACKS = f"""
WITH cb AS (
    SELECT DISTINCT t.id, t.status, t.outcome, t.due_at, rc.started_at AS reached_at,
           (SELECT min(coalesce(mc.ended_at, mc.started_at)) FROM calls mc
            WHERE mc.callback_task_id = t.id) AS missed_at
    FROM calls c JOIN tasks t ON t.id = c.callback_task_id LEFT JOIN calls rc ON rc.id = t.reached_call_id
    WHERE {RANGE} AND {MISSED}
)
SELECT count(*) AS tasks, count(*) FILTER (WHERE outcome = 'reached') AS reached,
       count(*) FILTER (WHERE outcome = 'reached' AND reached_at <= due_at) AS on_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM reached_at - missed_at))
           FILTER (WHERE outcome = 'reached') AS median_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM reached_at - missed_at))
           FILTER (WHERE outcome = 'reached') AS p90_s,
       coalesce(array_agg(greatest(0, extract(epoch FROM reached_at - missed_at))::float8)
                FILTER (WHERE outcome = 'reached'), '{{}}') AS delays
FROM cb
"""

NEVER = f"""
SELECT DISTINCT ON (t.id) t.id, t.phone, t.customer_id, cu.name AS customer_name, t.missed_calls,
       (SELECT min(coalesce(mc.ended_at, mc.started_at)) FROM calls mc WHERE mc.callback_task_id = t.id) AS first_at,
       m.display_name AS assignee_name
FROM calls c JOIN tasks t ON t.id = c.callback_task_id LEFT JOIN customers cu ON cu.id = t.customer_id
LEFT JOIN managers m ON m.id = t.assignee_id
WHERE {RANGE} AND {MISSED} AND t.status = 'open'
ORDER BY t.id
"""

ANSWER_SPEED = f"""
SELECT width_bucket(c.ring_s, ARRAY[5, 10, 20, 30, 60]::float8[]) AS bucket, count(*) AS n
FROM calls c WHERE {RANGE} AND c.outcome = 'answered' AND c.ring_s IS NOT NULL GROUP BY 1
"""

MISSED_HOURS = f"""
SELECT extract(hour FROM c.started_at AT TIME ZONE $3)::int AS hour,
       extract(isodow FROM c.started_at AT TIME ZONE $3)::int AS dow, count(*) AS n
FROM calls c WHERE {RANGE} AND {MISSED} GROUP BY 1, 2
"""



async def direct_audit(pool: Pool, start: datetime, end: datetime, *, zone: str = "Europe/Moscow",
                             never_limit: int = 200) -> Audit:
    """The audit of inbound calls started in [start, end), every figure from the calls and tasks."""
    # Independent reads, each its own pass over the range: run side by side on the pool's connections.
    (totals_rows, reason_rows, number_rows, channel_rows, manager_rows, cb_rows, never_rows, speed_rows,
     hour_rows) = await asyncio.gather(
        pool.fetch(TOTALS, start, end), pool.fetch(BY_REASON, start, end), pool.fetch(BY_NUMBER, start, end),
        pool.fetch(BY_CHANNEL, start, end), pool.fetch(BY_MANAGER, start, end), pool.fetch(CALLBACKS, start, end),
        pool.fetch(NEVER, start, end), pool.fetch(ANSWER_SPEED, start, end),
        pool.fetch(MISSED_HOURS, start, end, zone))
    totals, cb = totals_rows[0], cb_rows[0]
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
        reached_on_time=int(cb["on_time"]), callback_median_s=cb["median_s"], callback_p90_s=cb["p90_s"],
        callback_delays_s=list(cb["delays"]), never_called_back=never[:never_limit], answer_speed=speed,
        queued=int(totals["queued"]), abandoned_in_queue=int(totals["abandoned_in_queue"]),
        missed_per_hour=per_hour, missed_per_weekday=per_day)

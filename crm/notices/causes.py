"""From a cause to a recorded notice: a missed call's new callback task, an order's move to a status.

Each cause has one key (`missed:<task id>`, `order-status:<order id>:<history id>`), so the jobs
may run twice and the customer still gets one notice. The text is rendered here, when the cause
happens (the log shows what will be sent); sending, holding and retrying are the job queue's.
"""

from __future__ import annotations

from datetime import datetime

from crm import callbacks
from crm.database import Pool
from crm.notices import data
from crm.notices.policy import recipient
from crm.notices.text import render

TASK_FOR_NOTICE = """
SELECT t.kind, t.phone, t.status, c.caller_presentation
FROM tasks t LEFT JOIN calls c ON c.id = t.call_id WHERE t.id = $1
"""

#: The status change (its history row: both are written in one transaction, so `changed_at` is the order's
#: `status_changed_at`) with what its notice needs; the customer's first phone is written to.
STATUS_CHANGE_FOR_NOTICE = """
SELECT h.id AS history_id, h.to_status, o.number, cu.name AS customer_name, s.title_ru AS status_title,
       t.template,
       (SELECT p.e164 FROM customer_phones p WHERE p.customer_id = o.customer_id
        ORDER BY p.created_at, p.e164 LIMIT 1) AS phone
FROM order_status_history h
JOIN orders o ON o.id = h.order_id
JOIN customers cu ON cu.id = o.customer_id
JOIN order_statuses s ON s.code = h.to_status
LEFT JOIN notice_templates t ON t.status = h.to_status
WHERE h.order_id = $1 AND h.changed_at = $2
ORDER BY h.id DESC LIMIT 1
"""


async def missed_call_notice(pool: Pool, task_id: int) -> int | None:
    """Record "we missed your call" for a new callback task; the notice's id, None when none is due
    (switched off, a hidden number, the task not a callback, or recorded before)."""
    config = await data.load_config(pool)
    if not config.missed_enabled:
        return None
    task = await pool.fetchrow(TASK_FOR_NOTICE, task_id)
    if task is None or task["kind"] != "callback" or task["status"] != "open":
        return None
    to = recipient(task["phone"], task["caller_presentation"])
    if to is None:
        return None
    minutes = (await callbacks.load_settings(pool)).deadline_minutes
    body = render(config.missed_template, {"minutes": minutes, "shop": config.shop_name})
    if not body:
        return None
    return await data.record(pool, f"missed:{task_id}", "missed_call", to, body, task_id=task_id)


async def order_status_notice(pool: Pool, order_id: int, changed_at: datetime) -> int | None:
    """Record the status's notice for one move of the order; None when the status has no template, the
    customer no phone, or it was recorded before."""
    row = await pool.fetchrow(STATUS_CHANGE_FOR_NOTICE, order_id, changed_at)
    if row is None or not row["template"]:
        return None
    to = recipient(row["phone"])
    if to is None:
        return None
    config = await data.load_config(pool)
    body = render(row["template"], {"order_number": row["number"], "status": row["status_title"],
                                    "customer": row["customer_name"], "shop": config.shop_name})
    if not body:
        return None
    return await data.record(pool, f"order-status:{order_id}:{row['history_id']}", "order_status", to, body,
                             order_id=order_id)

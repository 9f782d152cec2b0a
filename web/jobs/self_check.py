"""The self-check calls' minutely job: claim a scheduled moment once, give stale runs their verdict.

Any worker may run it; the unique `slot` of a run makes the claim happen once across instances and
restarts. Placing the call needs the AMI connection, so the claimed run waits in the database for the
holder (web/self_check_caller.py), woken by a NOTIFY.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from crm.routing.hours import zone
from crm.self_check import runs
from crm.self_check.schedule import due_slot
from web.jobs.queue import CHECKS_QUEUE, _env, _recorded, jobs
from web.self_check_caller import notify

log = logging.getLogger(__name__)


@jobs.periodic(cron="* * * * *", periodic_id="self-check")
@jobs.task(name="self_check_tick", queue=CHECKS_QUEUE, pass_context=True)
async def self_check_tick(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: start the scheduled test call when its moment has come; judge runs that went nowhere."""
    async def work() -> None:
        env = _env(context)
        now = datetime.fromtimestamp(timestamp, UTC)
        settings = await runs.load_settings(env.pool)
        tz = zone(env.timezone)
        slot = due_slot(settings, now, tz) if tz is not None else None
        if slot is not None and (run_id := await runs.claim_slot(env.pool, settings, slot)) is not None:
            log.info("self-check: test call %d for %s claimed", run_id, slot.isoformat())
            await notify(env.pool)
        await runs.expire(env.pool, now)

    await _recorded(context, "self_check_tick", work)

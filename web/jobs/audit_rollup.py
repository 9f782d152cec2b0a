"""The audit roll-up's minutely job: recompute the days whose calls changed, roll up the days not yet rolled up.

Any worker may run it, two at once included: a day is recomputed whole under one advisory lock, so the rows
come out the same (crm/audit_rollup.py). At the first start over a long history it rolls up the newest
days first, `BUDGET_S` at a time, and the next minutes carry on; until then the audit reads those days from
the calls, with the same figures.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from crm import audit_rollup
from web.jobs.queue import CHECKS_QUEUE, _env, _recorded, jobs

log = logging.getLogger(__name__)

#: Seconds of recomputation per run: the next minute's run carries on.
BUDGET_S = 40.0


@jobs.periodic(cron="* * * * *", periodic_id="audit-rollup")
@jobs.task(name="audit_rollup_tick", queue=CHECKS_QUEUE, pass_context=True)
async def audit_rollup_tick(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: bring the audit's daily roll-up up to date in the shop's time zone."""
    async def work() -> None:
        env = _env(context)
        result = await audit_rollup.refresh(env.pool, env.timezone, now=datetime.fromtimestamp(timestamp, UTC),
                                            max_seconds=BUDGET_S)
        if result.days:
            log.info("audit roll-up: %d days recomputed (%d marks), %d left", result.days, result.marks, result.left)

    await _recorded(context, "audit_rollup_tick", work)

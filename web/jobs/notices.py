"""The customer notices' jobs, on the same queue and blueprint as the others (web/jobs/queue.py).

`send_notice` sends one notice (or holds it past quiet hours), retried with backoff while the gateway
refuses; `release_notices` runs every minute and queues what is due again: notices whose quiet hours
ended, and ones whose job gave up before the notice's last attempt. web/jobs/runtime.py imports this
module, so every app built there (the service's worker, `perezvon worker`, the tests) has the tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from crm.notices import data
from web.jobs import notice_delivery
from web.jobs.queue import CHECKS_QUEUE, RETRY, _env, _recorded, jobs


@jobs.task(name=notice_delivery.SEND_TASK, queue=CHECKS_QUEUE, retry=RETRY, pass_context=True)
async def send_notice(context: procrastinate.JobContext, notice_id: int) -> None:
    """One notice through the gateway, now or (in quiet hours) held until they end."""
    async def work() -> None:
        env = _env(context)
        notices = env.notices
        await notice_delivery.send(env.pool, notices.gateway(), notices.zone, notice_id, notices.clock())

    await _recorded(context, notice_delivery.SEND_TASK, work)


@jobs.periodic(cron="* * * * *", periodic_id="notice-release")
@jobs.task(name="release_notices", queue=CHECKS_QUEUE, pass_context=True)
async def release_notices(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: held notices whose quiet hours are over, and notices still to try, go on the queue."""
    async def work() -> None:
        env = _env(context)
        if not env.notices.settings.enabled:
            return
        for notice_id in await data.due(env.pool, datetime.fromtimestamp(timestamp, UTC)):
            await notice_delivery.defer_send(context.app, notice_id)

    await _recorded(context, "release_notices", work)

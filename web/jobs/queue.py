"""The job queue's tasks. They reach the database and the live bus through `JobEnvironment`, handed to the
worker as procrastinate's additional context (tasks are module functions; the service builds the rest)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import procrastinate

from crm import callbacks
from crm.database import Pool
from web.live.bus import LiveBus
from web.live.hub import Audience

log = logging.getLogger(__name__)

#: The tasks, registered once; `web.jobs.runtime.job_app` adds them to an app on the service's database.
jobs = procrastinate.Blueprint()
RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2)
CALLS_QUEUE = "calls"
CHECKS_QUEUE = "checks"


@dataclass(frozen=True)
class JobEnvironment:
    pool: Pool
    bus: LiveBus


def _env(context: procrastinate.JobContext) -> JobEnvironment:
    env = (context.additional_context or {}).get("env")
    if not isinstance(env, JobEnvironment):
        raise RuntimeError("the worker was started without its JobEnvironment")
    return env


async def _recorded(context: procrastinate.JobContext, name: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work`; a failure is written where admins see it (job_failures), then raised for the retry."""
    try:
        await work()
    except Exception as exc:
        env = _env(context)
        job = context.job
        text = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        try:
            await env.pool.execute("INSERT INTO job_failures (job_id, task_name, attempt, error) "
                                   "VALUES ($1, $2, $3, $4)", job.id, name, job.attempts + 1, text)
        except Exception:
            log.exception("could not record the failure of job %s", job.id)
        raise


@jobs.task(name="call_ended", queue=CALLS_QUEUE, retry=RETRY, pass_context=True)
async def call_ended(context: procrastinate.JobContext, linkedid: str) -> None:
    """A call ended: a missed one opens or updates its callback; an answered one closes the number's callback."""
    async def work() -> None:
        env = _env(context)
        missed = await callbacks.on_missed_call(env.pool, linkedid)
        reached = await callbacks.on_call_ended(env.pool, linkedid)
        touched: set[int | None] = set(reached.assignee_ids)
        if missed.task_id is not None and not missed.skipped:
            touched.add(await env.pool.fetchval("SELECT assignee_id FROM tasks WHERE id = $1", missed.task_id))
        if missed.task_id is not None and not missed.skipped or reached.closed_task_ids or reached.attempt_logged_on:
            await env.bus.publish(Audience(frozenset(m for m in touched if m is not None), supervisors=True),
                                  {"type": "tasks.changed"})

    await _recorded(context, "call_ended", work)


@jobs.periodic(cron="* * * * *", periodic_id="callback-deadlines")
@jobs.task(name="check_deadlines", queue=CHECKS_QUEUE, pass_context=True)
async def check_deadlines(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: an overdue callback raises one alert, its escalation another (never twice)."""
    async def work() -> None:
        env = _env(context)
        raised = await callbacks.raise_overdue_alerts(env.pool, datetime.fromtimestamp(timestamp, UTC))
        for alert in raised:
            await env.bus.publish(Audience(frozenset({alert.assignee_id} if alert.assignee_id else set()),
                                           supervisors=True),
                                  {"type": "alert.raised", "alert": alert.alert_id, "task": alert.task_id,
                                   "level": alert.level, "message": alert.title[:300]})
        if raised:
            log.warning("callbacks overdue: %d alerts raised", len(raised))

    await _recorded(context, "check_deadlines", work)

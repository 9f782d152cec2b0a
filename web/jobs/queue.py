"""The job queue's tasks. They reach the database and the live bus through `JobEnvironment`, handed to the
worker as procrastinate's additional context (tasks are module functions; the service builds the rest)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from crm import alerts, callbacks, webhooks
from crm.database import Pool
from crm.self_check import runs as self_check_runs
from recordings.store import RecordingStore
from recordings.transcribing import TranscriptionService
from web.jobs import mail, notice_delivery
from web.jobs import webhooks as webhook_jobs
from web.jobs.notice_delivery import NoticeEnvironment
from web.live.bus import LiveBus
from web.live.hub import Audience
from web.mail_settings import MailSettings

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
    mail: MailSettings = MailSettings()
    #: Where the panel is, for links in e-mails.
    panel_url: str = "http://127.0.0.1:8080/"
    #: The shop's time zone (PEREZVON_TIMEZONE): schedules are in its local time.
    timezone: str = "Europe/Moscow"
    #: Customer notices: the gateway's settings, the shop's zone for quiet hours, the clock.
    notices: NoticeEnvironment = NoticeEnvironment()
    #: Call recordings (directories, settings, clock); None: recording jobs do nothing (tests of other jobs).
    recordings: RecordingStore | None = None
    #: Speech to text (its model loads on the first recording); None: transcription is off in this worker.
    transcription: TranscriptionService | None = None


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
        await self_check_runs.claim_call(env.pool, linkedid)  # a test call is known as one before it counts
        missed = await callbacks.on_missed_call(env.pool, linkedid)
        reached = await callbacks.on_call_ended(env.pool, linkedid)
        if missed.task_id is not None and missed.created:
            await webhook_jobs.emit(context.app, env.pool, "callback.created", f"callback:{missed.task_id}",
                                    {"task_id": missed.task_id, "call": linkedid})
            await notice_delivery.missed_call(context.app, env.pool, env.notices.settings, missed.task_id)
        for task_id in reached.closed_task_ids:
            await webhook_jobs.emit(context.app, env.pool, "callback.done", f"callback-done:{task_id}",
                                    {"task_id": task_id, "call": linkedid, "outcome": "reached"})
        touched: set[int | None] = set(reached.assignee_ids)
        if missed.task_id is not None and not missed.skipped:
            touched.add(await env.pool.fetchval("SELECT assignee_id FROM tasks WHERE id = $1", missed.task_id))
        if missed.task_id is not None and not missed.skipped or reached.closed_task_ids or reached.attempt_logged_on:
            await env.bus.publish(Audience(frozenset(m for m in touched if m is not None), supervisors=True),
                                  {"type": "tasks.changed"})

    await _recorded(context, "call_ended", work)


async def _defer_mail(context: procrastinate.JobContext, alert_id: int) -> None:
    if not _env(context).mail.enabled or context.app is None:
        return
    try:
        await context.app.configure_task("send_alert_email", queueing_lock=f"alert-mail:{alert_id}").defer_async(
            alert_id=alert_id)
    except AlreadyEnqueued:
        pass


@jobs.task(name="send_alert_email", queue=CHECKS_QUEUE, retry=RETRY, pass_context=True)
async def send_alert_email(context: procrastinate.JobContext, alert_id: int) -> None:
    """One alert's e-mail to the head of sales (SMTP), retried while the server does not take it."""
    async def work() -> None:
        env = _env(context)
        await mail.send_alert(env.pool, env.mail, env.panel_url, alert_id)

    await _recorded(context, "send_alert_email", work)


@jobs.task(name="deliver_webhook", queue=CHECKS_QUEUE, retry=RETRY, pass_context=True)
async def deliver_webhook(context: procrastinate.JobContext, delivery_id: int) -> None:
    """One signed webhook POST, retried with backoff until the receiver answers 2xx."""
    async def work() -> None:
        await webhook_jobs.deliver(_env(context).pool, delivery_id)

    await _recorded(context, "deliver_webhook", work)


@jobs.periodic(cron="* * * * *", periodic_id="callback-deadlines")
@jobs.task(name="check_deadlines", queue=CHECKS_QUEUE, pass_context=True)
async def check_deadlines(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: an overdue callback raises one alert, its escalation another (never twice); so does an
    order past its status's time limit (with a follow-up task for its manager); tasks that came due remind
    their assignees."""
    async def work() -> None:
        env = _env(context)
        raised = await callbacks.raise_overdue_alerts(env.pool, datetime.fromtimestamp(timestamp, UTC))
        for alert in raised:
            await _defer_mail(context, alert.alert_id)
            await webhook_jobs.emit(context.app, env.pool, "alert.raised", f"alert:{alert.alert_id}",
                                    {"alert_id": alert.alert_id, "task_id": alert.task_id, "level": alert.level,
                                     "message": alert.title})
            await env.bus.publish(Audience(frozenset({alert.assignee_id} if alert.assignee_id else set()),
                                           supervisors=True),
                                  {"type": "alert.raised", "alert": alert.alert_id, "task": alert.task_id,
                                   "level": alert.level, "message": alert.title[:300]})
        if raised:
            log.warning("callbacks overdue: %d alerts raised", len(raised))
        for order_alert in await alerts.raise_order_limit_alerts(env.pool, datetime.fromtimestamp(timestamp, UTC)):
            if order_alert.level > 1:  # escalations go to the head of sales by e-mail too
                await _defer_mail(context, order_alert.alert_id)
            await webhook_jobs.emit(context.app, env.pool, "alert.raised", f"alert:{order_alert.alert_id}",
                                    {"alert_id": order_alert.alert_id, "order_id": order_alert.order_id,
                                     "level": order_alert.level, "message": order_alert.message})
            manager = order_alert.manager_id if order_alert.level == 1 else None
            audience = Audience(frozenset({manager}) if manager else frozenset(), supervisors=manager is None)
            await env.bus.publish(audience, {"type": "alert.raised", "alert": order_alert.alert_id,
                                             "order": order_alert.order_id, "level": order_alert.level,
                                             "message": order_alert.message[:300]})
            if order_alert.task_id is not None:
                await env.bus.publish(audience, {"type": "tasks.changed"})
        for delivery_id in await webhooks.pending(env.pool):
            await webhook_jobs.emit_retry(context.app, delivery_id)
        for reminder in await alerts.due_reminders(env.pool, datetime.fromtimestamp(timestamp, UTC)):
            await env.bus.publish(Audience(frozenset({reminder.assignee_id})),
                                  {"type": "reminder", "task": reminder.task_id, "message": reminder.title[:300]})

    await _recorded(context, "check_deadlines", work)

"""Sending customer notices: what a cause sets going on the queue, and one notice's send (or hold).

`send` is the whole decision for one notice at a given moment: already done -> nothing; inside quiet
hours -> held until they end (the minutely sweep, `release_notices`, queues it again from that minute
on, and the quiet hours are weighed again then, as the admin has them by then); a missed call's
notice whose callback was made meanwhile -> skipped; else the gateway, whose refusal is recorded on
the notice (the admins' page shows it) and raised for the retry.

The moment comes from `NoticeEnvironment.clock`, so tests hold and release notices without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from crm.database import Pool
from crm.notices import causes, data
from crm.routing.hours import zone
from web.jobs.notice_gateway import GatewayFailed, NoticeGateway, OutgoingNotice, gateway_for
from web.notice_settings import NoticeSettings

log = logging.getLogger(__name__)

SEND_TASK = "send_notice"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NoticeEnvironment:
    """What the notice jobs need beside the pool: the gateway's settings, the shop's zone, a clock."""

    settings: NoticeSettings = NoticeSettings()
    timezone: str = "Europe/Moscow"
    clock: Callable[[], datetime] = utc_now

    @property
    def zone(self) -> tzinfo:
        return zone(self.timezone) or ZoneInfo("UTC")

    def gateway(self) -> NoticeGateway | None:
        return gateway_for(self.settings)


@dataclass(frozen=True)
class SendResult:
    state: str  # sent, held, skipped, nothing (already done, or notices are off)
    until: datetime | None = None


class NoticeFailed(Exception):
    """The gateway refused the notice; it was recorded and will be tried again (until MAX_ATTEMPTS)."""


async def send(pool: Pool, gateway: NoticeGateway | None, zone: tzinfo, notice_id: int, now: datetime
               ) -> SendResult:
    """Send notice `notice_id` at `now`, or hold it past quiet hours; safe to run twice (it sends once)."""
    notice = await data.get(pool, notice_id)
    if gateway is None or notice is None or notice.state not in ("queued", "held"):
        return SendResult("nothing")
    config = await data.load_config(pool)
    until = config.quiet.release_at(now, zone)
    if until is not None:
        await data.hold(pool, notice_id, until)
        return SendResult("held", until)
    if notice.kind == "missed_call" and notice.task_id is not None \
            and not await data.callback_open(pool, notice.task_id):
        await data.skip(pool, notice_id, "the callback was made before the notice could go")
        return SendResult("skipped")
    try:
        await gateway.send(OutgoingNotice(notice.cause, notice.to_phone, notice.body, notice.kind))
    except GatewayFailed as exc:
        state = await data.record_attempt(pool, notice_id, now, gateway=gateway.name, error=str(exc))
        raise NoticeFailed(f"notice {notice_id} ({state}): {exc}") from exc
    await data.record_attempt(pool, notice_id, now, gateway=gateway.name)
    log.info("notice %d (%s) sent through %s", notice_id, notice.cause, gateway.name)
    return SendResult("sent")


async def defer_send(app: procrastinate.App | None, notice_id: int) -> None:
    """Queue notice `notice_id`'s send: one waiting job and one running, per notice."""
    if app is None:
        return
    key = f"notice:{notice_id}"
    try:
        await app.configure_task(SEND_TASK, queueing_lock=key, lock=key).defer_async(
            notice_id=notice_id)
    except AlreadyEnqueued:
        pass


async def _queue(app: procrastinate.App | None, notice_id: int | None) -> None:
    if notice_id is None:
        return
    try:
        await defer_send(app, notice_id)
    except Exception:
        log.exception("notice %d could not be queued (the sweep will send it)", notice_id)


async def missed_call(app: procrastinate.App | None, pool: Pool, settings: NoticeSettings, task_id: int) -> None:
    """A missed call opened callback task `task_id`: its "we will call you back" notice, when switched on."""
    if not settings.enabled:
        return
    try:
        notice_id = await causes.missed_call_notice(pool, task_id)
    except Exception:  # the callback itself is done; a notice that cannot be recorded must not undo it
        log.exception("the missed-call notice of task %d could not be recorded", task_id)
        return
    await _queue(app, notice_id)


async def order_status_changed(app: procrastinate.App | None, pool: Pool, settings: NoticeSettings,
                               order_id: int, changed_at: datetime) -> None:
    """Order `order_id` moved to a status at `changed_at`: that status's notice, when it has a template."""
    if not settings.enabled:
        return
    try:
        notice_id = await causes.order_status_notice(pool, order_id, changed_at)
    except Exception:  # the status change is committed; its notice must not fail the request
        log.exception("the status notice of order %d could not be recorded", order_id)
        return
    await _queue(app, notice_id)

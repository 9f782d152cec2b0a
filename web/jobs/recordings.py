"""Recording jobs: register a call's recordings when it ends, look over the directory, expire old ones.

`register_recording` is deferred for every call whose end is written (web.jobs.runtime.CallJobs), with a
queueing lock per call (one waiting job however often the end is written) and a lock per call (never two
at once). A recording that is not there yet re-defers the job for a few seconds later, with backoff, until
the wait after the call's end (PEREZVON_RECORDINGS_WAIT_S) is over; then the call is flagged "recording
missing". The work is idempotent (recordings.register), so retries and a second worker register once.
The jobs run on their own queue, `recordings`, so a worker can be given to them alone.
"""

from __future__ import annotations

import logging

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from recordings import retention
from recordings.register import register_call
from recordings.scan import scan_incoming
from web.jobs.queue import RETRY, _env, _recorded, jobs
from web.jobs.transcription import defer_transcribe
from web.live.hub import Audience

log = logging.getLogger(__name__)

RECORDINGS_QUEUE = "recordings"


async def defer_register(app: procrastinate.App | None, linkedid: str, *, attempt: int = 0,
                         delay_s: float | None = None) -> bool:
    """Queue the call's registration (now, or in `delay_s`); False when one is already waiting."""
    if app is None:
        return False
    key = f"recording:{linkedid}"
    deferrer = app.configure_task("register_recording", queueing_lock=key, lock=key) if delay_s is None else \
        app.configure_task("register_recording", queueing_lock=key, lock=key, schedule_in={"seconds": delay_s})
    try:
        await deferrer.defer_async(linkedid=linkedid, attempt=attempt)
    except AlreadyEnqueued:
        log.debug("call %s: its recording job is already waiting", linkedid)
        return False
    return True


@jobs.task(name="register_recording", queue=RECORDINGS_QUEUE, retry=RETRY, pass_context=True)
async def register_recording(context: procrastinate.JobContext, linkedid: str, attempt: int = 0) -> None:
    """Find, verify and store the call's recordings; look again later while one may still come."""
    async def work() -> None:
        env = _env(context)
        if env.recordings is None:
            log.warning("call %s: no recordings store in this worker; recording not registered", linkedid)
            return
        result = await register_call(env.pool, env.recordings, linkedid, attempt=attempt)
        if result.retry_in_s is not None:
            await defer_register(context.app, linkedid, attempt=attempt + 1, delay_s=result.retry_in_s)
        if env.transcription is not None:
            for recording_id in result.registered:
                await defer_transcribe(context.app, env.pool, recording_id)
        if result.registered and result.people:
            # The pop still open after the call shows the player (web/static/live.js).
            await env.bus.publish(Audience(frozenset(result.people)),
                                  {"type": "recording.ready", "call": linkedid, "recording": result.registered[0],
                                   "url": f"/recordings/{result.registered[0]}"})

    await _recorded(context, "register_recording", work)


@jobs.periodic(cron="*/5 * * * *", periodic_id="recordings-scan")
@jobs.task(name="scan_recordings", queue=RECORDINGS_QUEUE, pass_context=True)
async def scan_recordings(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every five minutes: files whose registration never ran are registered; unknown ones are reported."""
    async def work() -> None:
        env = _env(context)
        if env.recordings is None:
            return
        report = await scan_incoming(env.pool, env.recordings)
        for linkedid in report.to_register:
            await defer_register(context.app, linkedid)
        if report.unknown or report.refused:
            log.warning("recordings directory: %d files of unknown calls, %d refused", len(report.unknown),
                        len(report.refused))

    await _recorded(context, "scan_recordings", work)


@jobs.periodic(cron="17 * * * *", periodic_id="recordings-retention")
@jobs.task(name="expire_recordings", queue=RECORDINGS_QUEUE, pass_context=True)
async def expire_recordings(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every hour: recordings past the retention or the disk limit are archived or deleted (never kept ones)."""
    async def work() -> None:
        env = _env(context)
        if env.recordings is not None:
            await retention.expire(env.pool, env.recordings)

    await _recorded(context, "expire_recordings", work)

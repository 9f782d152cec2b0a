"""Transcription jobs: one per registered recording, on their own queue (`transcription`), so a machine with a
GPU can run `perezvon worker` for them alone and the calls' jobs never wait behind a long recording.

A job is deferred when a recording is registered (web/jobs/recordings.py) with a queueing lock per
recording; `perezvon transcribe` works through a backlog with the same claim. A failure is kept on the
transcript (and in the admins' job failures) and retried with backoff; the periodic sweep re-queues
transcripts whose job was lost (a queue cleared, a worker killed).
"""

from __future__ import annotations

import logging
from datetime import UTC

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from crm.database import Pool
from crm.routing.hours import zone
from crm.transcripts import data
from recordings.transcribing import transcribe_one
from web.jobs.queue import RETRY, _env, _recorded, jobs
from web.live.hub import Audience

log = logging.getLogger(__name__)

TRANSCRIPTION_QUEUE = "transcription"


async def defer_transcribe(app: procrastinate.App | None, pool: Pool, recording_id: int) -> int | None:
    """Queue the recording's transcription (its transcript row, and a job); the transcript's id."""
    transcript_id = await data.queue(pool, recording_id)
    if app is None or transcript_id is None:
        return transcript_id
    key = f"transcript:{transcript_id}"
    try:
        await app.configure_task("transcribe_recording", queueing_lock=key, lock=key).defer_async(
            transcript_id=transcript_id)
    except AlreadyEnqueued:
        pass
    return transcript_id


async def requeue(app: procrastinate.App, pool: Pool, limit: int = 500) -> int:
    """A job for each transcript still to do that has none waiting; how many were queued."""
    queued = 0
    for transcript_id in (await data.waiting(pool))[:limit]:
        key = f"transcript:{transcript_id}"
        try:
            await app.configure_task("transcribe_recording", queueing_lock=key, lock=key).defer_async(
                transcript_id=transcript_id)
            queued += 1
        except AlreadyEnqueued:
            continue
    return queued


@jobs.task(name="transcribe_recording", queue=TRANSCRIPTION_QUEUE, retry=RETRY, pass_context=True)
async def transcribe_recording(context: procrastinate.JobContext, transcript_id: int) -> None:
    """Speech to text for one recording, then what it says: the order it names, keywords, promises."""
    async def work() -> None:
        env = _env(context)
        if env.transcription is None or env.recordings is None:
            log.warning("transcript %d: transcription is off in this worker", transcript_id)
            return
        outcome = await transcribe_one(env.pool, env.recordings, env.transcription, transcript_id,
                                       zone(env.timezone) or UTC)
        if outcome.state == "failed":
            raise RuntimeError(outcome.error)  # retried with backoff; the transcript keeps the error
        found = outcome.findings
        if found is not None and found.alert_id is not None:
            await env.bus.publish(Audience(frozenset(outcome.people), supervisors=True),
                                  {"type": "alert.raised", "alert": found.alert_id, "level": 1,
                                   "message": "В разговоре: " + ", ".join(found.keywords)[:280]})
        if found is not None and found.suggestion_ids and outcome.people:
            await env.bus.publish(Audience(frozenset(outcome.people)), {"type": "tasks.changed"})

    await _recorded(context, "transcribe_recording", work)


@jobs.periodic(cron="*/10 * * * *", periodic_id="transcripts-sweep")
@jobs.task(name="sweep_transcripts", queue=TRANSCRIPTION_QUEUE, pass_context=True)
async def sweep_transcripts(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every ten minutes: transcripts waiting without a job (lost, or failed earlier) get one again."""
    async def work() -> None:
        env = _env(context)
        if env.transcription is not None and context.app is not None:
            await requeue(context.app, env.pool)

    await _recorded(context, "sweep_transcripts", work)

"""The job queue in a running service: the worker, the link from the call recorder, the admins' figures.

`perezvon serve` runs a worker beside the web app by default (`PEREZVON_WORKER=0` turns it off);
`perezvon worker` runs one alone, on any machine with the same database: the way to scale out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from crm.database import Pool
from pbx_bridge import call_facts as cf
from recordings.store import RecordingStore
from recordings.transcribing import TranscriptionService
from web.jobs import audit_rollup as _audit_rollup_jobs  # noqa: F401 (registers its tasks)
from web.jobs import notices as _notice_jobs  # noqa: F401 (registers its tasks)
from web.jobs import recordings as recording_jobs
from web.jobs import self_check as _self_check_jobs  # noqa: F401 (registers its tasks)
from web.jobs import transcription as _transcription_jobs  # noqa: F401 (registers its tasks)
from web.jobs import webhooks as webhook_jobs
from web.jobs.notice_delivery import NoticeEnvironment
from web.jobs.queue import JobEnvironment, jobs
from web.live.bus import LiveBus
from web.mail_settings import MailSettings

log = logging.getLogger(__name__)

MAX_BACKLOG = 50_000
STOP_GRACE_S = 5.0


class CallJobs:
    """After-write hook of the call recorder: what a written call fact sets going on the job queue.

    A call whose end is written becomes a `call_ended` job; the queueing lock names the call, so it waits
    in the queue at most once however often its end is written (resync, recovery). Ringing, answered and
    missed calls are also the webhooks' `call.*` events. The tracker's path only queues the fact."""

    def __init__(self, app: procrastinate.App, pool: Pool | None = None) -> None:
        self._app = app
        self._pool = pool
        self._queue: asyncio.Queue[cf.CallFact] = asyncio.Queue()
        self.deferred = 0

    def on_written(self, fact: cf.CallFact) -> None:
        if isinstance(fact, cf.CallEnded | cf.CallLost | cf.LegRinging | cf.LegAnswered) \
                and self._queue.qsize() < MAX_BACKLOG:
            self._queue.put_nowait(fact)

    async def run(self) -> None:
        while True:
            fact = await self._queue.get()
            try:
                if isinstance(fact, cf.CallEnded | cf.CallLost):
                    await defer_call_ended(self._app, fact.call_id)
                    self.deferred += 1
                    await recording_jobs.defer_register(self._app, fact.call_id)
                await self._webhook(fact)
            except Exception:  # the job queue being down must not stop the next calls
                log.exception("call %s: could not queue its jobs", fact.call_id)
            finally:
                self._queue.task_done()

    async def _webhook(self, fact: cf.CallFact) -> None:
        if self._pool is None:
            return
        match fact:
            case cf.LegRinging():
                await webhook_jobs.emit(self._app, self._pool, "call.ringing", f"ringing:{fact.call_id}:{fact.channel}",
                                        {"call": fact.call_id, "extension": fact.extension, "number": fact.number})
            case cf.LegAnswered():
                await webhook_jobs.emit(self._app, self._pool, "call.answered",
                                        f"answered:{fact.call_id}:{fact.channel}",
                                        {"call": fact.call_id, "extension": fact.extension, "number": fact.number})
            case cf.CallEnded() if fact.outcome is cf.Outcome.MISSED and fact.direction is cf.Direction.INBOUND:
                await webhook_jobs.emit(self._app, self._pool, "call.missed", f"missed:{fact.call_id}",
                                        {"call": fact.call_id, "number": fact.customer_number,
                                         "reason": fact.reason.value if fact.reason else ""})
            case _:
                return

    async def drain(self) -> None:
        await self._queue.join()


async def defer_call_ended(app: procrastinate.App, linkedid: str) -> None:
    try:
        await app.configure_task("call_ended", queueing_lock=f"call:{linkedid}").defer_async(linkedid=linkedid)
    except AlreadyEnqueued:
        log.debug("call %s: its job is already waiting", linkedid)


@dataclass
class Jobs:
    app: procrastinate.App
    calls: CallJobs
    worker: asyncio.Task[None] | None


def job_app(dsn: str) -> procrastinate.App:
    """The job queue on this database (its own small psycopg pool beside the service's asyncpg one)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn, min_size=1, max_size=4))
    app.add_tasks_from(jobs, namespace="")
    return app


@contextlib.asynccontextmanager
async def start_jobs(dsn: str, pool: Pool, bus: LiveBus, *, run_worker: bool = True,
                     concurrency: int = 4, mail: MailSettings | None = None,
                     panel_url: str = "http://127.0.0.1:8080/", timezone: str = "Europe/Moscow",
                     notices: NoticeEnvironment | None = None,
                     recordings: RecordingStore | None = None,
                     transcription: TranscriptionService | None = None) -> AsyncIterator[Jobs]:
    """Open the queue for the block; with `run_worker`, a worker runs in it too."""
    app = job_app(dsn)
    async with app.open_async():
        calls = CallJobs(app, pool)
        feeder = asyncio.create_task(calls.run(), name="call-jobs")
        worker = asyncio.create_task(
            app.run_worker_async(install_signal_handlers=False, concurrency=concurrency,
                                 name=f"perezvon@{socket.gethostname()}",
                                 additional_context={"env": JobEnvironment(pool, bus, mail or MailSettings(),
                                                                           panel_url, timezone,
                                                                           notices=notices or NoticeEnvironment(),
                                                                           recordings=recordings,
                                                                           transcription=transcription)}),
            name="job-worker") if run_worker else None
        try:
            yield Jobs(app, calls, worker)
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE_S):
                    await calls.drain()
            feeder.cancel()
            for task in (feeder, worker):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


QUEUE_FIGURES = """
SELECT task_name, status::text AS status, count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS retried
FROM procrastinate_jobs GROUP BY task_name, status ORDER BY task_name, status
"""


@dataclass(frozen=True)
class QueueFigure:
    task_name: str
    status: str
    count: int
    retried: int


@dataclass(frozen=True)
class JobFailure:
    task_name: str
    job_id: int | None
    attempt: int
    error: str
    at: object


async def queue_figures(pool: Pool) -> list[QueueFigure]:
    return [QueueFigure(r["task_name"], r["status"], int(r["n"]), int(r["retried"]))
            for r in await pool.fetch(QUEUE_FIGURES)]


async def recent_failures(pool: Pool, limit: int = 50) -> list[JobFailure]:
    rows = await pool.fetch("SELECT * FROM job_failures ORDER BY at DESC, id DESC LIMIT $1", limit)
    return [JobFailure(r["task_name"], r["job_id"], r["attempt"], r["error"], r["at"]) for r in rows]

"""Composition root: start the database, apply migrations, build the app, run until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from crm import database
from crm.database import Pool
from crm.embedded import EmbeddedPostgres, ensure_database, start_embedded
from pbx_bridge.call_facts import CallFact
from recordings.store import RecordingStore
from recordings.transcribing import TranscriptionService
from web.app import create_app
from web.auto_callback import AutoCallback
from web.click_to_call import ClickToCall
from web.config import Settings
from web.jobs.notice_delivery import NoticeEnvironment
from web.jobs.runtime import start_jobs
from web.live.bus import PgBus
from web.live.hub import LiveHub
from web.live.runtime import start_live
from web.self_check_caller import SelfCheckCaller
from web.signals import StopSignals
from web.telephony import start_telephony

log = logging.getLogger(__name__)


@dataclass
class Database:
    pool: Pool
    dsn: str
    embedded: EmbeddedPostgres | None


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The configured PostgreSQL (or the embedded one), migrated, as a pool.

    An embedded server is released on exit: stopped when no other perezvon process on the same data
    directory still uses it (`crm.embedded`), so `perezvon token create` beside a running service
    leaves the service's database alone.
    """
    embedded: EmbeddedPostgres | None = None
    dsn = settings.database.database_url
    if not dsn:
        embedded = await _start_embedded(settings.database.data_dir)
    try:
        if embedded is not None:
            await ensure_database(embedded)
            dsn = embedded.dsn
            log.info("embedded PostgreSQL running in %s", embedded.pgdata)
        assert dsn is not None
        if migrate:
            conn = await database.connect(dsn)
            try:
                applied = await database.migrate(conn)
            finally:
                await conn.close()
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        pool = await database.create_pool(dsn, min_size=settings.database.pool_min_size,
                                          max_size=settings.database.pool_max_size)
        try:
            yield Database(pool=pool, dsn=dsn, embedded=embedded)
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.release)


async def _start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server; a cancel (SIGTERM while starting) still releases what started."""
    start = asyncio.ensure_future(asyncio.to_thread(start_embedded, data_dir))
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            started = await start  # the thread goes on regardless: wait for it, then let go
            await asyncio.to_thread(started.release)
        raise


def public_url(settings: Settings) -> str:
    return settings.web.public_url or f"http://{settings.web.http_host}:{settings.web.http_port}/"


def recording_store(settings: Settings) -> RecordingStore:
    """The recordings' directories (created when missing) and settings, for the recording jobs."""
    store = RecordingStore.from_settings(settings.recordings, settings.database.data_dir)
    store.ensure_dirs()
    return store


def transcription_service(settings: Settings) -> TranscriptionService | None:
    """The job workers' transcriber (loaded on the first recording), or None when switched off or not installed."""
    if not settings.transcription.enabled:
        return None
    service = TranscriptionService(settings.transcription, settings.database.data_dir)
    if (missing := service.missing_package()) is not None:
        log.warning("transcription is on but the %s engine is not installed (no %r package): recordings are "
                    "not transcribed; pip install 'perezvon[transcribe]' or set PEREZVON_TRANSCRIBE=0",
                    settings.transcription.engine, missing)
        return None
    return service


async def serve(settings: Settings, db: Database, signals: StopSignals, *, banner: list[str] | None = None,
                simulate: bool = False) -> None:
    """Serve the web app with the PBX side running beside it until Ctrl-C or SIGTERM."""
    async with start_live(settings, db.pool, db.dsn) as live, \
            start_jobs(db.dsn, db.pool, live.bus, run_worker=settings.web.worker, recordings=recording_store(settings),
                       transcription=transcription_service(settings),
                       concurrency=settings.web.worker_concurrency, mail=settings.mail,
                       panel_url=public_url(settings), timezone=settings.crm.timezone,
                       notices=NoticeEnvironment(settings.notices, settings.crm.timezone)) as jobs:
        hooks: list[Callable[[CallFact], None]] = [jobs.calls.on_written]
        if live.publisher is not None:
            hooks.insert(0, live.publisher.on_written)
        async with start_telephony(settings, db.pool, simulate=simulate, agi=settings.agi, dsn=db.dsn,
                                   after_write=fan_out(hooks)) as telephony:
            click_to_call = ClickToCall(db.pool, telephony, db.dsn, default_region=settings.crm.default_region)
            beside = [asyncio.create_task(click_to_call.run(), name="click-to-call-handover"),
                      asyncio.create_task(SelfCheckCaller(db.pool, telephony, db.dsn).run(), name="self-check-caller"),
                      asyncio.create_task(AutoCallback(db.pool, telephony, click_to_call).run(), name="auto-callback")]
            try:
                await _serve_app(create_app(settings, db.pool, telephony, live, click_to_call, jobs.app), settings,
                                 signals, banner)
            finally:
                for task in beside:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


def fan_out(hooks: list[Callable[[CallFact], None]]) -> Callable[[CallFact], None]:
    """One after-write hook for the call recorder that tells each consumer (the live panel, the job queue)."""
    def tell(fact: CallFact) -> None:
        for hook in hooks:
            try:
                hook(fact)
            except Exception:  # one consumer's failure must not keep the others from the fact
                log.exception("after-write hook %r failed", hook)

    return tell


async def run_worker(settings: Settings, db: Database, signals: StopSignals) -> None:
    """`perezvon worker`: only the job worker, until Ctrl-C or SIGTERM (the way to add job capacity)."""
    bus = PgBus(db.dsn, db.pool, LiveHub())  # it only publishes: the tabs are on the web instances
    async with start_jobs(db.dsn, db.pool, bus, recordings=recording_store(settings),
                          transcription=transcription_service(settings),
                          concurrency=settings.web.worker_concurrency, mail=settings.mail,
                          panel_url=public_url(settings), timezone=settings.crm.timezone,
                          notices=NoticeEnvironment(settings.notices, settings.crm.timezone)):
        with signals.serving() as stop:
            print("perezvon worker is running. Press Ctrl-C to stop.", flush=True)
            await stop.wait()
            print("stopping...", flush=True)


async def _serve_app(app: web.Application, settings: Settings, signals: StopSignals,
                     banner: list[str] | None) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.web.http_host, settings.web.http_port)
    await site.start()
    try:
        with signals.serving() as stop:
            print(f"perezvon is running at {public_url(settings)}", flush=True)
            for line in banner or []:
                print(line, flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
            print("stopping...", flush=True)
    finally:
        await runner.cleanup()

"""Composition root: start the database, apply migrations, build the app, run until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from aiohttp import web

from crm import database
from crm.database import Pool
from crm.embedded import EmbeddedPostgres, ensure_database, start_embedded
from web.app import create_app
from web.config import Settings
from web.telephony import start_telephony

log = logging.getLogger(__name__)


@dataclass
class Database:
    pool: Pool
    dsn: str
    embedded: EmbeddedPostgres | None


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The configured PostgreSQL (or the embedded one), migrated, as a pool; stopped on exit."""
    embedded: EmbeddedPostgres | None = None
    dsn = settings.database.database_url
    if not dsn:
        embedded = await asyncio.to_thread(start_embedded, settings.database.data_dir)
        await ensure_database(embedded)
        dsn = embedded.dsn
        log.info("embedded PostgreSQL running in %s", embedded.pgdata)
    try:
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
            await asyncio.to_thread(embedded.stop)


def public_url(settings: Settings) -> str:
    return settings.web.public_url or f"http://{settings.web.http_host}:{settings.web.http_port}/"


@contextlib.contextmanager
def stop_signal() -> Iterator[asyncio.Event]:
    """An event set on Ctrl-C or SIGTERM, so shutdown runs in order instead of dying mid-write.

    Installed before the service says it is ready, so a signal right after the banner is not lost.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve(settings: Settings, db: Database, *, banner: list[str] | None = None, simulate: bool = False) -> None:
    """Serve the web app with the PBX side running beside it until Ctrl-C or SIGTERM."""
    async with start_telephony(settings, db.pool, simulate=simulate, agi=settings.agi) as telephony:
        await _serve_app(create_app(settings, db.pool, telephony), settings, banner)


async def _serve_app(app: web.Application, settings: Settings, banner: list[str] | None) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.web.http_host, settings.web.http_port)
    await site.start()
    try:
        with stop_signal() as stop:
            print(f"perezvon is running at {public_url(settings)}", flush=True)
            for line in banner or []:
                print(line, flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
            print("stopping...", flush=True)
    finally:
        await runner.cleanup()

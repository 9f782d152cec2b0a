"""`perezvon worker`: a job worker alone on the service's database, the way users add job capacity."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from crm.database import Pool
from tests.calls_scenarios import no_answer, record
from tests.service_process import poll, start_service
from web.jobs.runtime import defer_call_ended, job_app


async def test_a_worker_on_another_machine_works_the_queue_and_stops_cleanly(
        tmp_path: Path, db_dsn: str, pool: Pool) -> None:
    await record(pool, no_answer(lid="1800000300.1", caller="79035550300"))
    worker = await asyncio.to_thread(start_service, "worker", tmp_path / "worker", env={"DATABASE_URL": db_dsn})
    try:
        app = job_app(db_dsn)
        async with app.open_async():
            await defer_call_ended(app, "1800000300.1")

        async def tasked() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM tasks WHERE phone = '+79035550300'"))

        await poll(tasked, deadline_s=60)
        registered = await pool.fetchval("SELECT count(*) FROM procrastinate_workers")
        assert registered == 1
    finally:
        code = await asyncio.to_thread(worker.stop, signal.SIGTERM)
    assert code == 0, worker.output
    assert "ERROR" not in worker.output, worker.output

"""What every benchmark needs: a database to fill, timing of awaited calls, percentiles, the report.

Benchmarks run against a real PostgreSQL, never a mock: the embedded server in a
temporary directory (or a kept `--data-dir`), or the server named by `DATABASE_URL`,
where a throw-away database is created so the service's own data is never touched.
Figures are measured and printed; nothing here asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench._stats import cpu_model, ram_gib
from crm import database
from crm.embedded import EmbeddedPostgres, start_embedded

T = TypeVar("T")

BENCH_DATABASE = "perezvon_bench"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Latency figures of one series of calls, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        ms = [s * 1000.0 for s in seconds]
        return cls(count=len(ms), p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99), max_ms=max(ms))


def median_of_runs(runs: Sequence[Summary]) -> Summary:
    """Several runs reduce to the median of each figure, so one noisy run does not decide the result."""
    return Summary(count=sum(r.count for r in runs),
                   p50_ms=statistics.median(r.p50_ms for r in runs),
                   p99_ms=statistics.median(r.p99_ms for r in runs),
                   max_ms=statistics.median(r.max_ms for r in runs))


async def time_calls(calls: Sequence[Callable[[], Awaitable[T]]]) -> tuple[list[float], list[T]]:
    """Await each call in turn; return each call's wall time (perf_counter, seconds) and its result."""
    durations: list[float] = []
    results: list[T] = []
    for call in calls:
        start = time.perf_counter()
        result = await call()
        durations.append(time.perf_counter() - start)
        results.append(result)
    return durations, results


def _dsn_with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


async def _create_database(admin_dsn: str, name: str, *, drop_first: bool) -> bool:
    """Create `name` unless it exists; True when it was created (so it is empty)."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        if drop_first:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await admin.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        return True
    finally:
        await admin.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass(frozen=True)
class BenchDatabase:
    """A migrated database for one benchmark; `fresh` is False when a kept one is reused."""

    dsn: str
    fresh: bool


@asynccontextmanager
async def bench_database(*, data_dir: Path | None = None, keep: bool = False) -> AsyncIterator[BenchDatabase]:
    """A migrated database on `DATABASE_URL`'s server or on an embedded one.

    Without `data_dir` the embedded server lives in a temporary directory and is deleted
    afterwards. With `data_dir` it is kept there and the database is reused by the next run.
    On `DATABASE_URL` a separate database is created and dropped afterwards unless `keep`.
    """
    url = os.environ.get("DATABASE_URL")
    embedded: EmbeddedPostgres | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if url:
        admin_dsn = url
        name = BENCH_DATABASE if keep else f"{BENCH_DATABASE}_{os.getpid()}"
    else:
        if data_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="perezvon-bench-pg-")
            root = Path(tmp.name)
        else:
            root = data_dir
            keep = True
        embedded = await asyncio.to_thread(start_embedded, root, delete_on_stop=tmp is not None)
        admin_dsn = embedded.uri("postgres")
        name = BENCH_DATABASE
    try:
        fresh = await _create_database(admin_dsn, name, drop_first=not keep)
        dsn = _dsn_with_database(admin_dsn, name)
        conn = await database.connect(dsn)
        try:
            await database.migrate(conn)
        finally:
            await conn.close()
        yield BenchDatabase(dsn=dsn, fresh=fresh)
        if not keep:
            await _drop_database(admin_dsn, name)
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        if tmp is not None:
            tmp.cleanup()


async def machine_info(pool: database.Pool) -> dict[str, Any]:
    """Where the figures were taken: CPU, RAM, Python and the PostgreSQL server's version."""
    server_version = await pool.fetchval("SHOW server_version")
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "ram_gib": ram_gib(),
            "python": platform.python_version(), "postgresql": str(server_version)}


def emit_json(result: dict[str, Any]) -> None:
    """The last line of every benchmark's output: one JSON object other tools can parse."""
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)

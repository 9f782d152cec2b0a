"""Admin commands next to a running service on the same data directory, and the service's own stop.

A shop's admin runs `perezvon token create` while `perezvon serve` answers calls. Each command
used to stop the embedded PostgreSQL it had only joined, and the service then answered 500 and
sent every call to the fallback until restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.service_process import get_json, postgres_running_in, run_cli, service_env, start_service


async def _healthy(http: aiohttp.ClientSession, url: str) -> None:
    status, body = await get_json(http, url)
    assert status == 200 and body["status"] == "ok" and body["db"] == "ok", body


async def test_admin_commands_beside_a_running_service_leave_it_healthy(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    service = start_service("serve", data_dir)
    try:
        async with aiohttp.ClientSession() as http:
            await _healthy(http, service.url("/healthz"))
            commands: list[tuple[list[str], str]] = [
                (["user", "add", "olga", "--name", "Ольга", "--role", "supervisor", "--password-stdin"],
                 "first-password\n"),
                (["user", "passwd", "olga", "--password-stdin"], "second-password\n"),
                (["token", "create", "--user", "olga"], ""),
                (["migrate"], ""),
            ]
            token = ""
            for args, stdin in commands:
                result = run_cli(args, data_dir, stdin=stdin)
                assert result.returncode == 0, (args, result.stdout, result.stderr)
                assert "ERROR" not in result.stderr, result.stderr
                if args[0] == "token":
                    token = result.stdout.strip().splitlines()[-1]
                # The service's database is still up after each command, and so is the service.
                assert postgres_running_in(data_dir), f"{args} stopped the service's PostgreSQL"
                await _healthy(http, service.url("/healthz"))
            status, body = await get_json(http, service.url("/api/v1/customers"),
                                          headers={"Authorization": f"Bearer {token}"})
            assert status == 200 and "items" in body
    finally:
        code = service.stop(signal.SIGTERM)
    assert code == 0, service.output
    assert "ERROR" not in service.output and "Traceback" not in service.output, service.output
    assert not postgres_running_in(data_dir), "SIGTERM left the embedded PostgreSQL running"
    assert not (data_dir / "pg" / "postmaster.pid").exists()


def test_a_command_alone_stops_the_server_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    result = run_cli(["migrate"], data_dir)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    assert not postgres_running_in(data_dir)


def test_service_started_beside_a_command_outlives_it(tmp_path: Path) -> None:
    """The last one out stops the server: a service that joined a command's server keeps it."""
    data_dir = tmp_path / "var"
    # A command that waits on its standard input holds the server while the service starts on it.
    command = [sys.executable, "-m", "web.cli", "user", "add", "ivan", "--name", "Иван", "--password-stdin"]
    holder = subprocess.Popen(command,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=service_env(data_dir, 0), cwd=tmp_path)
    try:
        assert holder.stdin is not None
        service = start_service("serve", data_dir)
        try:
            _, err = holder.communicate("password-for-ivan\n", timeout=60)
            assert holder.returncode == 0, err
            assert postgres_running_in(data_dir), "the command stopped the server the service had joined"
        finally:
            assert service.stop(signal.SIGTERM) == 0, service.output
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not postgres_running_in(data_dir)


def test_sigterm_while_starting_leaves_no_postgres_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    service = start_service("serve", data_dir, env={"PEREZVON_LOG_LEVEL": "INFO"}, wait_ready=False)
    try:
        service.wait_for_line(r"starting embedded PostgreSQL")
    finally:
        code = service.stop(signal.SIGTERM)
    assert code in (0, 128 + signal.SIGTERM), service.output
    assert "Traceback" not in service.output, service.output
    assert not postgres_running_in(data_dir), "SIGTERM during start left the embedded PostgreSQL running"


@pytest.mark.parametrize("pid_owner", ["this test process", "no process at all"])
def test_stale_postmaster_pid_does_not_stop_the_start(tmp_path: Path, pid_owner: str) -> None:
    """A server killed hard leaves postmaster.pid; its PID may since belong to another process."""
    data_dir = tmp_path / "var"
    assert run_cli(["migrate"], data_dir).returncode == 0
    pid_file = data_dir / "pg" / "postmaster.pid"
    stale_pid = os.getpid() if pid_owner == "this test process" else _unused_pid()
    pid_file.write_text(f"{stale_pid}\n{data_dir / 'pg'}\n1700000000\n5432\n/tmp\n\n  1234 5678\nready\n")
    result = run_cli(["migrate"], data_dir, env={"PEREZVON_LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert "stale" in result.stderr and "postmaster.pid" in result.stderr
    assert not postgres_running_in(data_dir)


def _unused_pid() -> int:
    pid = 4_000_000
    while _exists(pid):
        pid -= 1
    return pid


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def test_db_serve_keeps_the_embedded_database_up_while_the_service_is_stopped(tmp_path: Path) -> None:
    """What Asterisk's cdr_pgsql needs (README "After an outage"): the database outlives `perezvon serve`."""
    data_dir = tmp_path / "var"
    db = start_service(("db", "serve"), data_dir, wait_ready=False)
    try:
        line = db.wait_for_line(r"socket directory \(cdr_pgsql.conf hostname\): /")
        assert line.split(": ", 1)[1].strip() == str((data_dir / "pg").resolve()), line
        service = start_service("serve", data_dir)
        assert service.stop(signal.SIGTERM) == 0, service.output
        assert postgres_running_in(data_dir), "perezvon serve stopped the PostgreSQL `db serve` holds"
        assert run_cli(["migrate"], data_dir).returncode == 0
        assert postgres_running_in(data_dir)
    finally:
        code = db.stop(signal.SIGTERM)
    assert code == 0, db.output
    assert "ERROR" not in db.output and "Traceback" not in db.output, db.output
    assert not postgres_running_in(data_dir), "SIGTERM left the embedded PostgreSQL running"

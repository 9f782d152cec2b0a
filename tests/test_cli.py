"""The `perezvon` command line, run as a real process against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm import managers
from crm.database import Pool


def run_cli(args: list[str], dsn: str, tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "PEREZVON_DATA_DIR": str(tmp_path / "data"),
           "PEREZVON_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "web.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60, check=False)


@pytest.mark.parametrize("args", [[], ["serve"], ["migrate"], ["demo"], ["simulate"], ["user"], ["user", "add"],
                                  ["user", "passwd"], ["token"], ["token", "create"]])
def test_help_everywhere(args: list[str], tmp_path: Path) -> None:
    result = run_cli([*args, "--help"], "postgresql://unused/none", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: perezvon" in result.stdout


async def test_user_add_passwd_and_token_create(db_dsn: str, pool: Pool, tmp_path: Path) -> None:
    added = run_cli(["user", "add", "olga", "--name", "Ольга <b>Петрова</b>", "--role", "supervisor",
                     "--extension", "105", "--password-stdin"], db_dsn, tmp_path, stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    olga = await managers.find_manager_by_login(pool, "olga")
    assert olga is not None and olga.role == "supervisor" and olga.extensions == ("105",)
    assert await managers.authenticate(pool, "olga", "first-password") is not None

    changed = run_cli(["user", "passwd", "olga", "--password-stdin"], db_dsn, tmp_path, stdin="second-password\n")
    assert changed.returncode == 0, changed.stderr
    assert await managers.authenticate(pool, "olga", "first-password") is None
    assert await managers.authenticate(pool, "olga", "second-password") is not None

    created = run_cli(["token", "create", "--user", "olga", "--label", "shop"], db_dsn, tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    owner = await managers.manager_for_token(pool, token)
    assert owner is not None and owner.login == "olga"


def test_bad_input_gets_a_clear_error(db_dsn: str, tmp_path: Path) -> None:
    short = run_cli(["user", "add", "pavel", "--name", "Павел", "--password-stdin"], db_dsn, tmp_path, stdin="123\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    unknown = run_cli(["token", "create", "--user", "nobody"], db_dsn, tmp_path)
    assert unknown.returncode == 1 and "no user 'nobody'" in unknown.stderr
    bad_setting = subprocess.run([sys.executable, "-m", "web.cli", "migrate"], capture_output=True, text=True,
                                 env={**os.environ, "PEREZVON_HTTP_PORT": "x"}, cwd=tmp_path, timeout=60, check=False)
    assert bad_setting.returncode == 2 and "PEREZVON_HTTP_PORT" in bad_setting.stderr

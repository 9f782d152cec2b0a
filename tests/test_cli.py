"""The `perezvon` command line, run as a real process against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm import managers, tokens
from crm.database import Pool
from crm.managers import ManagerInput


def run_cli(args: list[str], dsn: str, tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "PEREZVON_DATA_DIR": str(tmp_path / "data"),
           "PEREZVON_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "web.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60, check=False)


@pytest.mark.parametrize("args", [[], ["serve"], ["migrate"], ["demo"], ["simulate"], ["user"], ["user", "add"],
                                  ["user", "passwd"], ["token"], ["token", "create"],
                                  ["token", "list"], ["token", "revoke"], ["db"], ["db", "serve"],
                                  ["transcribe"]])
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


def test_db_serve_has_nothing_to_serve_with_database_url(tmp_path: Path) -> None:
    result = run_cli(["db", "serve"], "postgresql://unused/none", tmp_path)
    assert result.returncode == 2 and "DATABASE_URL is set" in result.stderr, result.stderr


async def test_bad_input_gets_a_clear_error(db_dsn: str, tmp_path: Path) -> None:
    short = run_cli(["user", "add", "pavel", "--name", "Павел", "--password-stdin"], db_dsn, tmp_path, stdin="123\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    unknown = run_cli(["token", "create", "--user", "nobody"], db_dsn, tmp_path)
    assert unknown.returncode == 1 and "no user 'nobody'" in unknown.stderr


def test_a_bad_setting_is_a_configuration_error(tmp_path: Path) -> None:
    bad_setting = subprocess.run([sys.executable, "-m", "web.cli", "migrate"], capture_output=True, text=True,
                                 env={**os.environ, "PEREZVON_HTTP_PORT": "x"}, cwd=tmp_path, timeout=60, check=False)
    assert bad_setting.returncode == 2 and "PEREZVON_HTTP_PORT" in bad_setting.stderr


async def test_token_create_with_expiry_list_and_revoke(db_dsn: str, pool: Pool, tmp_path: Path) -> None:
    shopbot = await managers.create_manager(pool, ManagerInput(login="shopbot", display_name="Shop",
                                                               role="operator"), "shopbot-password")
    other = await managers.create_manager(pool, ManagerInput(login="lida", display_name="Lida", role="operator"),
                                          "lida-password")
    await managers.create_api_token(pool, other.id, "lida's own")

    created = run_cli(["token", "create", "--user", "shopbot", "--label", "site feed", "--expires-days", "30"],
                      db_dsn, tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert (await managers.manager_for_token(pool, secret)) is not None
    (stored,) = await tokens.list_tokens(pool, shopbot.id)
    assert stored.expires_at is not None
    assert abs(stored.expires_at - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)

    listed = run_cli(["token", "list", "--user", "shopbot"], db_dsn, tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, line = listed.stdout.strip().splitlines()
    assert header.split()[:3] == ["ID", "USER", "STATUS"]
    assert line.split()[:3] == [str(stored.id), "shopbot", "active"] and line.endswith("site feed")
    assert stored.expires_at.strftime("%Y-%m-%dT%H:%MZ") in line
    assert secret not in listed.stdout
    everyone = run_cli(["token", "list"], db_dsn, tmp_path).stdout
    assert "lida's own" in everyone and "site feed" in everyone

    revoked = run_cli(["token", "revoke", str(stored.id)], db_dsn, tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert await managers.manager_for_token(pool, secret) is None
    relisted = run_cli(["token", "list", "--user", "shopbot"], db_dsn, tmp_path).stdout.strip().splitlines()
    assert relisted[1].split()[:3] == [str(stored.id), "shopbot", "revoked"]
    lida = run_cli(["token", "list", "--user", "lida"], db_dsn, tmp_path).stdout.strip().splitlines()
    assert len(lida) == 2 and lida[1].split()[1:3] == ["lida", "active"]


@pytest.mark.parametrize("days", ["0", "-5", "3651", "100000000000000000000", "ten"])
def test_token_expiry_out_of_range_is_refused(days: str, tmp_path: Path) -> None:
    result = run_cli(["token", "create", "--user", "shopbot", "--expires-days", days], "postgresql://unused/none",
                     tmp_path)
    assert result.returncode == 2 and "--expires-days: must be a whole number of days from 1 to 3650" in result.stderr


async def test_token_revoke_and_list_refuse_what_does_not_exist(db_dsn: str, tmp_path: Path) -> None:
    unknown = run_cli(["token", "revoke", "987654321"], db_dsn, tmp_path)
    assert unknown.returncode == 1 and "no API token 987654321" in unknown.stderr
    huge = run_cli(["token", "revoke", "9223372036854775808"], db_dsn, tmp_path)
    assert huge.returncode == 2 and "not a token id" in huge.stderr
    nobody = run_cli(["token", "list", "--user", "nobody"], db_dsn, tmp_path)
    assert nobody.returncode == 1 and "no user 'nobody'" in nobody.stderr


def test_logging_escapes_control_characters_in_every_line(tmp_path: Path) -> None:
    """The entry point's logging (`configure_logging`, what `main` calls): a hostile caller ID cannot forge a log
    line, clear the screen or ring the terminal, whoever logged it and however."""
    script = ("import logging, sys; from web.cli import configure_logging; configure_logging('info'); "
              "logging.getLogger('any.module').warning('caller %s', sys.argv[1]); "
              "logging.getLogger('other').info(sys.argv[1])")
    hostile = "evil\x1b[2J\rFAKE ERROR forged line\x07\u202e\nsecond"
    result = subprocess.run([sys.executable, "-c", script, hostile], capture_output=True, cwd=tmp_path,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for raw in (b"\x1b", b"\r", b"\x07", "\u202e".encode()):
        assert raw not in result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("WARNING any.module: caller evil\\x1b[2J\\rFAKE ERROR forged line\\x07\\u202e\\nsecond")
    assert lines[1].endswith("INFO other: evil\\x1b[2J\\rFAKE ERROR forged line\\x07\\u202e\\nsecond")

"""Settings are declared once and documented: every variable is in `.env.example`."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.config import SettingsError, all_setting_names, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = {line.lstrip("#").split("=", 1)[0].strip() for line in example.splitlines() if "=" in line}
    missing = [name for name in all_setting_names() if name not in documented]
    assert not missing, f"settings missing from .env.example: {missing}"
    assert {"DATABASE_URL", "PEREZVON_DATA_DIR", "PEREZVON_HTTP_HOST", "PEREZVON_HTTP_PORT"} <= documented


def test_every_documented_variable_exists() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = {line.lstrip("#").split("=", 1)[0].strip() for line in example.splitlines()
                  if "=" in line and line.lstrip("#").split("=", 1)[0].strip().isupper()}
    assert documented <= set(all_setting_names())


def test_defaults_listen_on_loopback_8080() -> None:
    settings = load_settings(environ={}, env_file=None)
    assert (settings.web.http_host, settings.web.http_port) == ("127.0.0.1", 8080)
    assert settings.database.database_url is None
    assert settings.crm.default_region == "RU"


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PEREZVON_HTTP_PORT=9000\nPEREZVON_HTTP_HOST=0.0.0.0\nPEREZVON_COOKIE_SECURE=yes\n")
    settings = load_settings(environ={"PEREZVON_HTTP_PORT": "9100"}, env_file=env_file)
    assert settings.web.http_port == 9100
    assert settings.web.http_host == "0.0.0.0"
    assert settings.web.cookie_secure is True


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("PEREZVON_HTTP_PORT", "eighty", "PEREZVON_HTTP_PORT"),
    ("PEREZVON_COOKIE_SECURE", "maybe", "PEREZVON_COOKIE_SECURE"),
    ("PEREZVON_DEFAULT_LOCALE", "de", "PEREZVON_DEFAULT_LOCALE"),
    ("PEREZVON_TIMEZONE", "Mars/Olympus", "PEREZVON_TIMEZONE"),
])
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ={name: value}, env_file=None)

"""The only place that reads the environment: fills every package's settings dataclass.

Values come from the process environment, then a `.env` file in the working directory
(the environment wins). Each setting is declared once, in its package's dataclass, with
its variable name and help text in the field metadata; `.env.example` documents them all.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from crm.settings import CrmSettings, DatabaseSettings
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.ami_settings import AmiSettings
from pbx_bridge.simulator.settings import SimulatorSettings
from recordings.settings import RecordingSettings
from recordings.transcription.settings import TranscriptionSettings
from web.mail_settings import MailSettings
from web.notice_settings import NoticeSettings
from web.settings import WebSettings

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """All settings of one service process."""

    database: DatabaseSettings
    crm: CrmSettings
    web: WebSettings
    ami: AmiSettings
    agi: AgiSettings
    simulator: SimulatorSettings
    mail: MailSettings = MailSettings()
    notices: NoticeSettings = NoticeSettings()
    recordings: RecordingSettings = RecordingSettings()
    transcription: TranscriptionSettings = TranscriptionSettings()


SETTINGS_CLASSES: tuple[type[Any], ...] = (DatabaseSettings, CrmSettings, WebSettings, AmiSettings, AgiSettings,
                                           SimulatorSettings, MailSettings, NoticeSettings, RecordingSettings,
                                           TranscriptionSettings)


def setting_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if "env" in f.metadata]


def all_setting_names() -> list[str]:
    return [f.metadata["env"] for cls in SETTINGS_CLASSES for f in setting_fields(cls)]


def _convert(raw: str, annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw == "":
            return None
        annotation = options[0]
    if annotation is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: expected true or false, got {raw!r}")
    if annotation is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: expected an integer, got {raw!r}") from exc
    if annotation is float:
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: expected a number, got {raw!r}") from exc
    if annotation is Path:
        return Path(raw).expanduser()
    return raw


def build(cls: type[T], env: Mapping[str, str]) -> T:
    hints = typing.get_type_hints(cls)
    values = {f.name: _convert(env[f.metadata["env"]], hints[f.name], f.metadata["env"])
              for f in setting_fields(cls) if f.metadata["env"] in env}
    return cls(**values)


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Settings from `.env` (if present) overridden by the real environment."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    settings = Settings(database=build(DatabaseSettings, merged), crm=build(CrmSettings, merged),
                        web=build(WebSettings, merged), ami=build(AmiSettings, merged),
                        agi=build(AgiSettings, merged), simulator=build(SimulatorSettings, merged),
                        mail=build(MailSettings, merged), notices=build(NoticeSettings, merged),
                        recordings=build(RecordingSettings, merged),
                        transcription=build(TranscriptionSettings, merged))
    if problems := settings.ami.problems() + settings.agi.problems() + settings.notices.problems() \
            + settings.recordings.problems(settings.database.data_dir) + settings.transcription.problems():
        raise SettingsError("; ".join(problems))
    if settings.web.default_locale not in ("ru", "en"):
        raise SettingsError("PEREZVON_DEFAULT_LOCALE: ru or en")
    try:
        ZoneInfo(settings.crm.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"PEREZVON_TIMEZONE: unknown time zone {settings.crm.timezone!r}") from exc
    return settings

"""Small helpers the page handlers share: reading form fields, safe redirects, dates in the shop's zone.

Form parsing stays here so handlers read as "parse, call one crm function, render".
Values that cannot be parsed raise `InvalidInput`, which the handlers show on the form.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from multidict import MultiDictProxy

from crm.errors import InvalidInput
from crm.validation import check_moment
from web.keys import SETTINGS

log = logging.getLogger(__name__)

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


def text(form: Form, name: str, default: str = "") -> str:
    """A text field (files and missing fields give `default`)."""
    value = form.get(name, default)
    return value if isinstance(value, str) else default


#: PostgreSQL's bigint: a larger id cannot exist; a larger offset is no page anyone reads.
MAX_ID = 2**63 - 1
MAX_OFFSET = 1_000_000


def checkbox(form: Form, name: str) -> bool:
    return text(form, name) in ("on", "1", "true", "yes")


def optional_int(form: Form, name: str, label: str) -> int | None:
    raw = text(form, name).strip()
    if not raw:
        return None
    if len(raw) > 20:
        raise InvalidInput(f"{label}: a whole number")
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{label}: a whole number") from exc
    if not -MAX_ID <= value <= MAX_ID:  # past PostgreSQL's bigint: no such id or count
        raise InvalidInput(f"{label}: out of range")
    return value


def int_field(form: Form, name: str, label: str, default: int) -> int:
    value = optional_int(form, name, label)
    return default if value is None else value


def split_list(raw: str, *, newlines: bool = True) -> tuple[str, ...]:
    """Comma- (and optionally line-) separated values, trimmed, empty ones dropped."""
    separators = ",;\n" if newlines else ","
    for sep in separators[1:]:
        raw = raw.replace(sep, separators[0])
    return tuple(part.strip() for part in raw.split(separators[0]) if part.strip())


def path_int(request: web.Request, name: str) -> int:
    """The numeric id in the URL; 404 when it is not a number or cannot exist in the database."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise web.HTTPNotFound()
    return int(raw)


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    try:
        value = max(0, int(request.query.get(name, default)))
    except ValueError:
        return default
    if value > MAX_OFFSET:
        raise InvalidInput(f"{name}: at most {MAX_OFFSET}")
    return value


def safe_next(target: str, fallback: str = "/") -> str:
    """Only same-site relative paths: a redirect to another site after a form would aid phishing."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def shop_zone(app: web.Application) -> tzinfo:
    """The shop's time zone from the settings; UTC when the system lacks the zone database."""
    return zone_named(app[SETTINGS].crm.timezone)


def zone_named(name: str) -> tzinfo:
    """The time zone `name`; UTC (with a warning) when the system lacks the zone database or the name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is unknown here; showing times in UTC", name)
        return ZoneInfo("UTC")


def parse_local_datetime(raw: str, zone: tzinfo, label: str) -> datetime | None:
    """A `datetime-local` input value (`2024-05-01T14:30`) read in the shop's zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{label}: a date and time like 2024-05-01 14:30") from exc
    check_moment(value, label)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def redirect(location: str) -> web.HTTPSeeOther:
    """Post/redirect/get: a reload after a form never resubmits it."""
    return web.HTTPSeeOther(location)

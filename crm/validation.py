"""Small input checks shared by the repositories: clean text, bounded sizes, clear errors."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from crm.errors import InvalidInput


def strip_control_chars(value: str, *, multiline: bool = False) -> str:
    """`value` without control, format (bidi), surrogate or private-use characters.

    Newlines and tabs survive in multi-line fields. PostgreSQL refuses NUL in text, so
    anything stored or looked up must pass through here (or `clean_text`) first.
    """
    return "".join(ch for ch in value
                   if (multiline and ch in "\n\t") or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))


def clean_text(value: str, field: str, *, max_len: int, min_len: int = 0, multiline: bool = False) -> str:
    """Strip control characters (except newlines in multi-line fields) and check the length.

    Hostile input (caller-ID names, API payloads) may carry NULs, escape sequences or
    bidi overrides; they are removed rather than stored, so every page shows clean text.
    """
    text = strip_control_chars(value, multiline=multiline)
    text = text.strip() if multiline else " ".join(text.split())
    if len(text) > max_len:
        raise InvalidInput(f"{field}: at most {max_len} characters")
    if len(text) < min_len:
        raise InvalidInput(f"{field}: required" if min_len == 1 else f"{field}: at least {min_len} characters")
    return text


def clean_tags(tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if len(tags) > 20:
        raise InvalidInput("tags: at most 20")
    cleaned = [clean_text(t, "tag", max_len=40).lower() for t in tags]
    return tuple(dict.fromkeys(t for t in cleaned if t))


#: Dates the CRM accepts: years 1 or 9999 only overflow when shifted to UTC or by a day, and mean a typo.
MIN_YEAR, MAX_YEAR = 1900, 2200


def year_in_range(value: datetime) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def check_moment(value: datetime, field: str) -> datetime:
    """`value` when its year is within MIN_YEAR..MAX_YEAR, else InvalidInput naming the field."""
    if not year_in_range(value):
        raise InvalidInput(f"{field}: a date between {MIN_YEAR} and {MAX_YEAR}")
    return value

"""What a transcript says that the shop acts on: keywords heard, and follow-ups the operator promised. Pure.

Keywords match by word start after folding case and «ё»: «возврат» finds «возврата», «возвратом»,
never «невозврат» (a word inside another). Whisper writes what it heard, so a keyword is a signal for a
supervisor to listen, not a verdict.

Promises: the operator's «перезвоню завтра», «наберу вам через час», «позвоню в понедельник»... become
a suggested follow-up task, due when the promise says (tomorrow at the same time; in N minutes or
hours; the next such weekday at 10:00), which the operator confirms or dismisses. On two-channel
recordings only the operator's words count; on mixed ones every segment does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

_WORD = re.compile(r"[0-9a-zа-я-]+")
_NUMBERS = {"один": 1, "одну": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5, "десять": 10,
            "пятнадцать": 15, "двадцать": 20, "тридцать": 30, "полчаса": 30}
_WEEKDAYS = {"понедельник": 0, "вторник": 1, "среду": 2, "четверг": 3, "пятницу": 4, "субботу": 5,
             "воскресенье": 6}
_VERB = r"(?:перезвоню|перезвоним|позвоню|позвоним|наберу|наберём|наберем|свяжусь|свяжемся)"
_PROMISE = re.compile(
    _VERB + r"(?:\s+(?:вам|тебе|вас))?\s+"
    r"(?P<when>завтра|послезавтра|сегодня|через\s+(?P<n>\d+|[а-я]+)\s*(?P<unit>минут[уы]?|час(?:а|ов)?)?"
    r"|в\s+(?P<day>понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье))")
#: When a day is promised without an hour: the start of a working morning.
MORNING = time(10, 0)


def fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def find_keywords(text: str, keywords: Iterable[str]) -> list[str]:
    """The configured keywords heard in `text` (each once, in the configured order)."""
    heard = words(text)
    found: list[str] = []
    for keyword in keywords:
        key = fold(keyword)
        if key and key not in found and any(word.startswith(key) for word in heard):
            found.append(keyword)
    return found


@dataclass(frozen=True)
class Promise:
    phrase: str
    due_at: datetime


def _due(match: re.Match[str], said_at: datetime, tz: tzinfo) -> datetime | None:
    when = match.group("when")
    local = said_at.astimezone(tz)
    if when == "сегодня":
        return said_at + timedelta(hours=2)
    if when in ("завтра", "послезавтра"):
        return said_at + timedelta(days=1 if when == "завтра" else 2)
    if match.group("day"):
        ahead = (_WEEKDAYS[match.group("day")] - local.weekday()) % 7 or 7
        return datetime.combine(local.date() + timedelta(days=ahead), MORNING, tzinfo=tz)
    raw = match.group("n") or ""
    count = int(raw) if raw.isdigit() else _NUMBERS.get(raw)
    if raw == "полчаса":
        return said_at + timedelta(minutes=30)
    if count is None or not 0 < count <= 1000:
        return None
    unit = match.group("unit") or "час"
    return said_at + (timedelta(minutes=count) if unit.startswith("минут") else timedelta(hours=count))


def find_promises(texts: Iterable[str], said_at: datetime, tz: tzinfo) -> list[Promise]:
    """Follow-ups promised in `texts` (the operator's segments), with when they are due; each phrase once."""
    found: dict[str, Promise] = {}
    for text in texts:
        folded = " ".join(words(text))
        for match in _PROMISE.finditer(folded):
            phrase = match.group(0)[:300]
            due = _due(match, said_at, tz)
            if due is not None and phrase not in found:
                found[phrase] = Promise(phrase, due)
    return list(found.values())

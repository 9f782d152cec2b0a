"""When and to whom a notice may go: quiet hours in the shop's zone, and numbers that can be written to.

Pure rules, the moment always given (the job passes its clock, tests pass theirs), so "held at
23:00, sent at 09:00" is checked without waiting for either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from crm.callbacks import HIDDEN
from crm.errors import InvalidInput

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::[0-5][0-9])?")


def parse_local_time(raw: str, label: str) -> time:
    """`21:00` (a form's time field, seconds ignored) as a time, or InvalidInput naming `label`."""
    match = _CLOCK.fullmatch(raw.strip())
    if match is None:
        raise InvalidInput(f"{label}: a time like 21:00")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class QuietHours:
    """Local times in the shop's zone: notices wait from `start` until `end` (start > end crosses midnight)."""

    start: time = time(21, 0)
    end: time = time(9, 0)
    enabled: bool = True

    def contains(self, local: time) -> bool:
        """Whether the local wall-clock time `local` is quiet (`start` included, `end` not)."""
        if not self.enabled or self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """None when `moment` may send; else the first moment quiet hours end after it (in UTC)."""
        local = moment.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not self.contains(wall):
            return None
        day = local.date() if wall < self.end else local.date() + timedelta(days=1)
        end = datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)
        # A local time that does not exist (a DST gap) lands past the gap; never earlier than now.
        return max(end, moment.astimezone(UTC))


def recipient(phone: str | None, presentation: str | None = None) -> str | None:
    """The number to write to, or None: a hidden, anonymous or malformed number never gets a notice."""
    if phone is None or (presentation or "") in HIDDEN:
        return None
    return phone if _E164.fullmatch(phone) else None

"""When a self-check call is due, and what the settings may hold. Pure: the moment is passed in.

The shop's own advice, automated: "call your own shop at the end of the working day". The schedule
is a set of weekdays and one local time in the shop's time zone (Friday 17:45 by default). A moment
is due from its time on for `GRACE`; a worker that was down longer skips it rather than calling the
shop at an hour nobody chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from crm.errors import InvalidInput

#: A scheduled moment is still placed this long after its time (a minutely job, a short restart).
GRACE = timedelta(minutes=10)
#: A run waits this long for the instance holding the PBX connection to place it.
PLACE_WITHIN = timedelta(minutes=5)
#: The shop's call must arrive within this long of the Originate (ringing the trunk, the provider).
ARRIVE_WITHIN = timedelta(minutes=2)
WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)
_DID = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class SelfCheckSettings:
    enabled: bool = False
    #: ISO weekdays, 1 Monday .. 7 Sunday.
    weekdays: tuple[int, ...] = (5,)
    at_time: time = time(17, 45)
    #: The number dialled through the trunk (digits as the provider expects them).
    did: str = ""
    #: The number the test call arrives from, E.164: how it is recognised coming back in.
    caller: str = ""
    #: Seconds the test call stays on the line after the answer.
    wait_s: int = 10

    @property
    def ready(self) -> bool:
        """Everything a test call needs is set (a run by hand needs this too, the schedule also `enabled`)."""
        return bool(self.did and self.caller)

    def validated(self) -> SelfCheckSettings:
        if not self.weekdays or any(day not in WEEKDAYS for day in self.weekdays):
            raise InvalidInput("choose at least one weekday for the self-check call")
        if self.did and not _DID.match(self.did):
            raise InvalidInput("the number to call must be digits only, as the provider expects them")
        if not 1 <= self.wait_s <= 120:
            raise InvalidInput("the test call stays on the line 1 to 120 seconds")
        if self.enabled and not self.ready:
            raise InvalidInput("to schedule self-check calls, give the number to call and the number they come from")
        return SelfCheckSettings(self.enabled, tuple(sorted(set(self.weekdays))), self.at_time.replace(second=0,
                                 microsecond=0), self.did, self.caller, self.wait_s)


def due_slot(settings: SelfCheckSettings, now: datetime, tz: tzinfo) -> datetime | None:
    """The scheduled moment due at `now` (aware), or None: today's (local) time when it passed under `GRACE` ago.

    The moment returned is the same for every instance and every minute within the grace, so a run is
    claimed once per moment (the runs table's unique `slot`).
    """
    if not settings.enabled or not settings.ready:
        return None
    local = now.astimezone(tz)
    for days_back in (0, 1):  # a 23:55 schedule is still due at 00:02 the next day
        day = (local - timedelta(days=days_back)).date()
        if day.isoweekday() not in settings.weekdays:
            continue
        slot = datetime.combine(day, settings.at_time, tzinfo=tz)
        if slot <= local < slot + GRACE:
            return slot
    return None


def next_slot(settings: SelfCheckSettings, now: datetime, tz: tzinfo) -> datetime | None:
    """The next scheduled moment after `now`, for the page ("next test call: Friday 17:45"); None when off."""
    if not settings.enabled or not settings.ready:
        return None
    local = now.astimezone(tz)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        slot = datetime.combine(day, settings.at_time, tzinfo=tz)
        if day.isoweekday() in settings.weekdays and slot > local:
            return slot
    return None

"""Auto-callback (a setting, off by default): perezvon places the callback itself when the assignee is free.

When a missed-call callback task is open, its assignee is online, their phone is registered and not in a
call, and the shop is open (the schedule of the number the customer dialled), perezvon rings the
assignee's phone and then the customer: the panel's click-to-call path, so the call is linked to the
task and an answered one closes it. At most `max_attempts` per task, `spacing_minutes` apart (counting
the operator's own callback attempts too), oldest deadline first, one call per operator at a time.

`candidates` reads who could be called back now; `choose` (pure) picks at most one task per free
operator; web/auto_callback.py runs it in the instance holding the PBX connection, which alone knows
who is free right now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.database import Pool
from crm.errors import InvalidInput


@dataclass(frozen=True)
class AutoCallbackSettings:
    enabled: bool = False
    max_attempts: int = 3
    spacing_minutes: int = 10

    def validated(self) -> AutoCallbackSettings:
        if not 1 <= self.max_attempts <= 20:
            raise InvalidInput("auto-callback attempts per task: 1 to 20")
        if not 1 <= self.spacing_minutes <= 1440:
            raise InvalidInput("minutes between auto-callback attempts: 1 to 1440")
        return self


@dataclass(frozen=True)
class Candidate:
    task_id: int
    assignee_id: int
    extensions: tuple[str, ...]
    #: The number the missed call dialled (its schedule decides whether the shop is open); '' unknown.
    did: str
    due_at: datetime | None


async def load_settings(pool: Pool) -> AutoCallbackSettings:
    row = await pool.fetchrow("SELECT auto_callback, auto_max_attempts, auto_spacing_minutes FROM callback_settings")
    if row is None:
        return AutoCallbackSettings()
    return AutoCallbackSettings(row["auto_callback"], row["auto_max_attempts"], row["auto_spacing_minutes"])


async def save_settings(pool: Pool, settings: AutoCallbackSettings) -> AutoCallbackSettings:
    clean = settings.validated()
    await pool.execute("UPDATE callback_settings SET auto_callback = $1, auto_max_attempts = $2, "
                       "auto_spacing_minutes = $3", clean.enabled, clean.max_attempts, clean.spacing_minutes)
    return clean


CANDIDATES = """
SELECT t.id, t.assignee_id, t.due_at, coalesce(c.did, '') AS did,
       ARRAY(SELECT e.extension FROM manager_extensions e WHERE e.manager_id = m.id ORDER BY e.extension) AS extensions
FROM tasks t
JOIN managers m ON m.id = t.assignee_id AND m.active AND m.presence = 'online'
LEFT JOIN calls c ON c.id = t.call_id
CROSS JOIN LATERAL (SELECT $1::timestamptz - $3::interval AS since) w
WHERE t.kind = 'callback' AND t.status = 'open' AND t.phone IS NOT NULL
  AND (SELECT count(*) FROM auto_callback_attempts a WHERE a.task_id = t.id) < $2
  AND NOT EXISTS (SELECT 1 FROM auto_callback_attempts a WHERE a.task_id = t.id AND a.at > w.since)
  AND NOT EXISTS (SELECT 1 FROM callback_attempts a WHERE a.task_id = t.id AND a.at > w.since)
  AND NOT EXISTS (SELECT 1 FROM click_to_call r WHERE r.task_id = t.id AND r.requested_at > w.since)
ORDER BY t.due_at NULLS LAST, t.id
LIMIT 200
"""


async def candidates(pool: Pool, now: datetime, settings: AutoCallbackSettings) -> list[Candidate]:
    """Open callbacks whose assignee is online and whose attempts leave room for one more now."""
    if not settings.enabled:
        return []
    rows = await pool.fetch(CANDIDATES, now, settings.max_attempts, timedelta(minutes=settings.spacing_minutes))
    return [Candidate(r["id"], r["assignee_id"], tuple(r["extensions"] or ()), r["did"], r["due_at"]) for r in rows]


def choose(found: Iterable[Candidate], *, phone_free: Callable[[str], bool], open_now: Callable[[str], bool]
           ) -> list[Candidate]:
    """At most one task per operator whose phone is free, in the shop's opening hours; earliest deadline first
    (`found` comes in that order)."""
    chosen: list[Candidate] = []
    taken: set[int] = set()
    for candidate in found:
        if candidate.assignee_id in taken or not open_now(candidate.did):
            continue
        if candidate.extensions and phone_free(candidate.extensions[0]):
            chosen.append(candidate)
            taken.add(candidate.assignee_id)
    return chosen


async def record_attempt(pool: Pool, candidate: Candidate, *, linkedid: str | None, error: str = "") -> None:
    await pool.execute("INSERT INTO auto_callback_attempts (task_id, manager_id, linkedid, error) "
                       "VALUES ($1, $2, $3, $4)", candidate.task_id, candidate.assignee_id, linkedid, error[:500])

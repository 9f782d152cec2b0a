"""Closing call records whose end nobody saw, so the journal never shows a call «Идёт» for ever.

A call can end while perezvon is stopped, restarting, or cut off from the AMI; a call opened only
by the FastAGI router (its decision is recorded before any AMI event) may never get an AMI event at
all. Three ways close such rows, each with what is known and no guessing:

* after every AMI login the bridge lists Asterisk's live calls; every open call *not* listed that
  started before the list was taken is over (`close_vanished_calls`, `closed_by = 'resync'`);
* the tracker gives up on a call whose Hangup never came within its bound (`close_lost_call`);
* a periodic sweep closes calls still open after that bound, whatever the AMI did
  (`close_stale_calls`, `closed_by = 'timeout'`): with no AMI at all it is the only one.

Outcome: `answered` when someone had picked up (the call's `answered_at`), otherwise `lost`; a
`missed` would be a guess (it may have been answered while nobody was looking), and `lost` says
exactly that the bridge did not see the end. The end time is the last moment known from the call
and its legs; talk time stays unknown. A later real `CallEnded` (the PBX did report it after all)
overwrites all of this with the true figures (`crm.calls.record_call_ended`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from crm.database import Pool

ClosedBy = Literal["resync", "timeout"]

#: A call that began in the last moments before Asterisk's list was taken may be missing from it
#: (its route decision is written first): only calls older than this before the list are closed.
LIST_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class LiveCalls:
    """Asterisk's whole list of live calls (their linkedids), taken at `at`."""

    linkedids: frozenset[str]
    at: datetime


@dataclass(frozen=True)
class LostCall:
    """The tracker gave up on this call at `at` (no Hangup within its bound)."""

    linkedid: str
    at: datetime

CLOSE_OPEN_CALLS = """
WITH lost AS (
    SELECT c.id, greatest(c.started_at, c.answered_at, max(l.ringing_at), max(l.answered_at),
                          max(l.ended_at)) AS last_seen
    FROM calls c LEFT JOIN call_legs l ON l.call_id = c.id
    WHERE c.ended_at IS NULL AND c.started_at < $1 AND NOT (c.linkedid = ANY($2::text[]))
      AND ($3::text IS NULL OR c.linkedid = $3)
    GROUP BY c.id
), closed AS (
    UPDATE calls c SET ended_at = lost.last_seen,
                       outcome = CASE WHEN c.answered_at IS NOT NULL THEN 'answered' ELSE 'lost' END,
                       closed_by = $4
    FROM lost WHERE c.id = lost.id
    RETURNING c.id, c.linkedid, c.ended_at
), legs AS (
    UPDATE call_legs l SET ended_at = closed.ended_at
    FROM closed WHERE l.call_id = closed.id AND l.ended_at IS NULL
)
SELECT linkedid FROM closed ORDER BY linkedid
"""


async def close_vanished_calls(pool: Pool, live_linkedids: frozenset[str], listed_at: datetime) -> list[str]:
    """Close every open call Asterisk did not list in its live calls taken at `listed_at`; their linkedids."""
    rows = await pool.fetch(CLOSE_OPEN_CALLS, listed_at - LIST_MARGIN, sorted(live_linkedids), None, "resync")
    return [row["linkedid"] for row in rows]


async def close_lost_call(pool: Pool, linkedid: str, at: datetime, closed_by: ClosedBy = "timeout") -> bool:
    """Close one call the tracker gave up on; False when it was closed already (or never recorded)."""
    rows = await pool.fetch(CLOSE_OPEN_CALLS, at, [], linkedid, closed_by)
    return bool(rows)


async def close_stale_calls(pool: Pool, started_before: datetime) -> list[str]:
    """Close every call still open that started before `started_before`; their linkedids."""
    rows = await pool.fetch(CLOSE_OPEN_CALLS, started_before, [], None, "timeout")
    return [row["linkedid"] for row in rows]

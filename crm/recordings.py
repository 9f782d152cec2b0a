"""Call recordings as business records: which call, customer and order a file belongs to, who may play it.

The files themselves are `recordings/`'s (find, verify, store, expire); this module keeps the rows:
`recordings` (one per call and kind, so registering twice registers once), the call's recording state,
and `recording_problems` (files that could not be registered, for the admins).

Who may play a recording follows the call: supervisors and admins every one; an operator the calls they
took, placed or that rang them (the calls journal's scope), and the calls of customers they are
responsible for. Anyone else gets "no recording N", as for an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm.calls import INVOLVES
from crm.database import Connection, Pool
from crm.errors import InvalidInput, NotFound
from crm.models import Manager

KINDS = ("mixed", "operator", "customer", "stereo")
CALL_STATES = ("none", "pending", "registered", "missing", "corrupt")
PROBLEM_KINDS = ("unknown_call", "corrupt", "empty", "refused")
ISSUES = ("truncated", "unfinished", "duration_differs")


@dataclass(frozen=True)
class CallForRecording:
    """What registration needs to know of a call."""

    id: int
    linkedid: str
    direction: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    talk_s: float | None
    customer_id: int | None
    #: The order the call is linked to, else the customer's latest order open when the call ended.
    order_id: int | None
    manager_id: int | None
    recording_state: str
    #: The managers whose phones rang (for the live message to their pops).
    rang: tuple[int, ...]


@dataclass(frozen=True)
class NewRecording:
    call_id: int
    customer_id: int | None
    order_id: int | None
    kind: str
    left_party: str | None
    path: str
    bytes: int
    duration_s: float
    sample_rate: int
    channels: int
    sha256: str
    recorded_at: datetime
    issues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recording:
    id: int
    call_id: int
    linkedid: str
    customer_id: int | None
    order_id: int | None
    kind: str
    left_party: str | None
    path: str
    bytes: int
    duration_s: float
    sample_rate: int
    channels: int
    sha256: str
    issues: tuple[str, ...]
    keep: bool
    recorded_at: datetime
    created_at: datetime
    state: str
    #: The call's people, for the scope check: its operator, the managers it rang, the customer's manager.
    manager_id: int | None = None
    direction: str = ""
    manager_name: str | None = None


@dataclass(frozen=True)
class Problem:
    id: int
    file_name: str
    kind: str
    detail: str
    call_id: int | None
    quarantine_path: str | None
    bytes: int | None
    first_seen: datetime
    last_seen: datetime


CALL_FOR_RECORDING = """
SELECT c.id, c.linkedid, c.direction, c.outcome, c.started_at, c.ended_at, c.talk_s, c.customer_id, c.manager_id,
       c.recording_state,
       coalesce(c.order_id, (
           SELECT o.id FROM orders o JOIN order_statuses s ON s.code = o.status
           WHERE o.customer_id = c.customer_id AND NOT s.is_final
             AND o.created_at <= coalesce(c.ended_at, c.started_at)
           ORDER BY o.created_at DESC, o.id DESC LIMIT 1)) AS order_id,
       ARRAY(SELECT DISTINCT l.manager_id FROM call_legs l WHERE l.call_id = c.id AND l.manager_id IS NOT NULL)
           AS rang
FROM calls c WHERE c.linkedid = $1
"""


async def call_for_recording(pool: Pool, linkedid: str) -> CallForRecording | None:
    row = await pool.fetchrow(CALL_FOR_RECORDING, linkedid)
    if row is None:
        return None
    return CallForRecording(
        id=row["id"], linkedid=row["linkedid"], direction=row["direction"], outcome=row["outcome"],
        started_at=row["started_at"], ended_at=row["ended_at"], talk_s=row["talk_s"], customer_id=row["customer_id"],
        order_id=row["order_id"], manager_id=row["manager_id"], recording_state=row["recording_state"],
        rang=tuple(row["rang"]))


async def known_calls(pool: Pool, linkedids: list[str]) -> dict[str, tuple[bool, str]]:
    """For each of these Linkedids that is a call: (has it ended, its recording state)."""
    rows = await pool.fetch("SELECT linkedid, ended_at IS NOT NULL AS ended, recording_state FROM calls "
                            "WHERE linkedid = ANY($1::text[])", linkedids)
    return {r["linkedid"]: (r["ended"], r["recording_state"]) for r in rows}


async def registered(pool: Pool, call_id: int) -> dict[str, Recording]:
    """The call's recordings by kind (whatever their state: a deleted one is not registered again)."""
    rows = await pool.fetch(SELECT_RECORDING + " WHERE r.call_id = $1", call_id)
    return {r["kind"]: _recording(r) for r in rows}


INSERT_RECORDING = """
INSERT INTO recordings (call_id, customer_id, order_id, kind, left_party, path, bytes, duration_s, sample_rate,
                        channels, sha256, recorded_at, issues)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (call_id, kind) DO NOTHING
RETURNING id
"""


async def insert_recording(pool: Pool, data: NewRecording) -> int | None:
    """The new row's id; None when the call already has a recording of this kind (registered before)."""
    if data.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    value: int | None = await pool.fetchval(
        INSERT_RECORDING, data.call_id, data.customer_id, data.order_id, data.kind, data.left_party, data.path,
        data.bytes, data.duration_s, data.sample_rate, data.channels, data.sha256, data.recorded_at,
        list(data.issues))
    return value


async def set_call_state(pool: Pool, call_id: int, state: str) -> None:
    """The call's recording state; 'registered' is never taken back by a later look that found nothing."""
    if state not in CALL_STATES:
        raise InvalidInput(f"recording_state must be one of {', '.join(CALL_STATES)}")
    await pool.execute("UPDATE calls SET recording_state = $2 WHERE id = $1 "
                       "AND (recording_state <> 'registered' OR $2 = 'registered')", call_id, state)


# ---- problems ---------------------------------------------------------------------------------------------------

RECORD_PROBLEM = """
INSERT INTO recording_problems (file_name, kind, detail, call_id, quarantine_path, bytes)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (file_name) WHERE resolved_at IS NULL DO UPDATE SET
    kind = EXCLUDED.kind, detail = EXCLUDED.detail, call_id = coalesce(EXCLUDED.call_id, recording_problems.call_id),
    quarantine_path = coalesce(EXCLUDED.quarantine_path, recording_problems.quarantine_path),
    bytes = coalesce(EXCLUDED.bytes, recording_problems.bytes), last_seen = now()
"""


def printable(text: str, limit: int) -> str:
    """A name from the disk made safe to store and show: control characters replaced, length capped."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit] or "?"


async def record_problem(pool: Pool, file_name: str, kind: str, detail: str = "", *, call_id: int | None = None,
                         quarantine_path: str | None = None, size: int | None = None) -> None:
    if kind not in PROBLEM_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(PROBLEM_KINDS)}")
    await pool.execute(RECORD_PROBLEM, printable(file_name, 300), kind, printable(detail, 500), call_id,
                       quarantine_path, size)


async def resolve_problems(pool: Pool, file_names: list[str]) -> int:
    """Close the open problems of these files (registered since, or gone from the recordings directory)."""
    result: str = await pool.execute("UPDATE recording_problems SET resolved_at = now() "
                                     "WHERE resolved_at IS NULL AND file_name = ANY($1::text[])",
                                     [printable(n, 300) for n in file_names])
    return int(result.split()[-1])


async def open_problems(pool: Pool, *, kinds: tuple[str, ...] = PROBLEM_KINDS, limit: int = 200) -> list[Problem]:
    rows = await pool.fetch("SELECT * FROM recording_problems WHERE resolved_at IS NULL AND kind = ANY($1::text[]) "
                            "ORDER BY last_seen DESC, id DESC LIMIT $2", list(kinds), limit)
    return [Problem(id=r["id"], file_name=r["file_name"], kind=r["kind"], detail=r["detail"], call_id=r["call_id"],
                    quarantine_path=r["quarantine_path"], bytes=r["bytes"], first_seen=r["first_seen"],
                    last_seen=r["last_seen"]) for r in rows]


# ---- reading, with the call's scope -----------------------------------------------------------------------------

SELECT_RECORDING = """
SELECT r.*, c.linkedid, c.manager_id AS call_manager_id, c.direction, m.display_name AS manager_name
FROM recordings r JOIN calls c ON c.id = r.call_id LEFT JOIN managers m ON m.id = c.manager_id
"""

#: A viewer may play the call's recordings: their call (operator or rang), or their customer's.
PLAYABLE = ("(" + INVOLVES.format(p="{p}") + " OR EXISTS (SELECT 1 FROM customers pc WHERE pc.id = c.customer_id "
            "AND pc.responsible_manager_id = {p}))")


def _recording(row: asyncpg.Record) -> Recording:
    return Recording(
        id=row["id"], call_id=row["call_id"], linkedid=row["linkedid"], customer_id=row["customer_id"],
        order_id=row["order_id"], kind=row["kind"], left_party=row["left_party"], path=row["path"],
        bytes=row["bytes"], duration_s=row["duration_s"], sample_rate=row["sample_rate"], channels=row["channels"],
        sha256=row["sha256"], issues=tuple(row["issues"]), keep=row["keep"], recorded_at=row["recorded_at"],
        created_at=row["created_at"], state=row["state"], manager_id=row["call_manager_id"],
        direction=row["direction"], manager_name=row["manager_name"])


async def get_recording(pool: Pool, recording_id: int, viewer: Manager | None = None) -> Recording:
    """The recording, if it exists and `viewer` (when given) may play it; else NotFound, the same for both."""
    if viewer is None or viewer.sees_everything:
        row = await pool.fetchrow(SELECT_RECORDING + " WHERE r.id = $1", recording_id)
    else:
        row = await pool.fetchrow(SELECT_RECORDING + " WHERE r.id = $1 AND " + PLAYABLE.format(p="$2"),
                                  recording_id, viewer.id)
    if row is None:
        raise NotFound(f"no recording {recording_id}")
    return _recording(row)


def may_play(viewer: Manager, call_manager_id: int | None, rang: tuple[int | None, ...],
             customer_manager_id: int | None) -> bool:
    """The same rule as `PLAYABLE`, for pages that already hold the call (to show a player or not)."""
    return viewer.sees_everything or viewer.id == call_manager_id or viewer.id in rang \
        or (customer_manager_id is not None and viewer.id == customer_manager_id)


async def for_order(pool: Pool, order_id: int, viewer: Manager) -> list[Recording]:
    """The order's recordings the viewer may play, newest call first."""
    where = " WHERE r.order_id = $1 AND r.state <> 'deleted'"
    order = " ORDER BY r.recorded_at DESC, r.id"
    if viewer.sees_everything:
        rows = await pool.fetch(SELECT_RECORDING + where + order, order_id)
    else:
        rows = await pool.fetch(SELECT_RECORDING + where + " AND " + PLAYABLE.format(p="$2") + order,
                                order_id, viewer.id)
    return [_recording(r) for r in rows]


async def set_keep(pool: Pool, recording_id: int, keep: bool, by: int | None) -> Recording:
    """Mark (or unmark) a recording as never to expire."""
    updated = await pool.fetchval("UPDATE recordings SET keep = $2, kept_by = CASE WHEN $2 THEN $3::bigint END "
                                  "WHERE id = $1 RETURNING id", recording_id, keep, by)
    if updated is None:
        raise NotFound(f"no recording {recording_id}")
    return await get_recording(pool, recording_id)


# ---- retention --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredRecording:
    id: int
    path: str
    bytes: int
    recorded_at: datetime
    keep: bool
    sha256: str


async def stored(pool: Pool) -> list[StoredRecording]:
    """Every recording under the storage directory, oldest first (what the retention weighs)."""
    rows = await pool.fetch("SELECT id, path, bytes, recorded_at, keep, sha256 FROM recordings WHERE state = 'stored' "
                            "ORDER BY recorded_at, id")
    return [StoredRecording(r["id"], r["path"], r["bytes"], r["recorded_at"], r["keep"], r["sha256"]) for r in rows]


async def claim_for_expiry(conn: Connection, recording_id: int) -> bool:
    """Lock a stored recording not marked keep for the caller's transaction; False when it is not one (any more)."""
    found = await conn.fetchval("SELECT id FROM recordings WHERE id = $1 AND state = 'stored' AND NOT keep "
                                "FOR UPDATE", recording_id)
    return found is not None


async def mark_expired(conn: Connection | Pool, recording_id: int, state: str, path: str | None = None) -> None:
    """The recording was archived (at `path` under the archive directory) or deleted; a kept one never is."""
    if state not in ("archived", "deleted"):
        raise InvalidInput("state must be archived or deleted")
    await conn.execute("UPDATE recordings SET state = $2, path = coalesce($3, path), state_at = now() "
                       "WHERE id = $1 AND state = 'stored' AND NOT keep", recording_id, state, path)


# ---- the admins' figures ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordingFigures:
    #: state -> (count, bytes)
    by_state: dict[str, tuple[int, int]]
    kept: int
    kept_bytes: int
    #: call recording state -> count (pending, missing, corrupt)
    calls: dict[str, int]
    with_issues: int


@dataclass(frozen=True)
class FlaggedCall:
    id: int
    linkedid: str
    started_at: datetime
    recording_state: str
    customer_id: int | None
    customer_name: str | None
    manager_name: str | None


async def figures(pool: Pool) -> RecordingFigures:
    rows = await pool.fetch("SELECT state, count(*) AS n, coalesce(sum(bytes), 0) AS b FROM recordings GROUP BY state")
    kept = await pool.fetchrow("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM recordings "
                               "WHERE keep AND state = 'stored'")
    calls = await pool.fetch("SELECT recording_state, count(*) AS n FROM calls "
                             "WHERE recording_state IN ('pending', 'missing', 'corrupt') GROUP BY recording_state")
    issues = await pool.fetchval("SELECT count(*) FROM recordings WHERE issues <> '{}' AND state <> 'deleted'")
    assert kept is not None  # an aggregate without GROUP BY always gives a row
    return RecordingFigures(by_state={r["state"]: (int(r["n"]), int(r["b"])) for r in rows},
                            kept=int(kept["n"]), kept_bytes=int(kept["b"]),
                            calls={r["recording_state"]: int(r["n"]) for r in calls}, with_issues=int(issues))


async def flagged_calls(pool: Pool, limit: int = 100) -> list[FlaggedCall]:
    """Calls whose recording is missing or corrupt (and those still awaited), newest first."""
    rows = await pool.fetch(
        "SELECT c.id, c.linkedid, c.started_at, c.recording_state, c.customer_id, cu.name AS customer_name, "
        "m.display_name AS manager_name FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id "
        "LEFT JOIN managers m ON m.id = c.manager_id "
        "WHERE c.recording_state IN ('pending', 'missing', 'corrupt') ORDER BY c.ended_at DESC NULLS LAST, c.id DESC "
        "LIMIT $1", limit)
    return [FlaggedCall(r["id"], r["linkedid"], r["started_at"], r["recording_state"], r["customer_id"],
                        r["customer_name"], r["manager_name"]) for r in rows]

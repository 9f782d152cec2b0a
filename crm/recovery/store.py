"""The outage recovery's SQL: Asterisk's CDR rows, the bridge's heartbeat, the gaps, and writing recovered calls.

Recovered calls are written through `crm.calls`' own upserts (the same as live facts: customer linking,
legs merged by channel, the order), then marked `recovered`. Which calls to write is decided here from
what the `calls` table already holds, so a call recorded live to its end (`closed_by = 'pbx'`) is never
touched and a call seen only in part is completed in its own row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crm import calls
from crm.database import Pool
from crm.recovery.cdr_calls import CdrRow, RecoveredCall

#: The one AMI link a single-PBX installation has (pbx_link's key).
LINK = "ami"

#: recover: no record yet; complete: a record whose end was not seen (its start is kept); complete_all: the
#: same for a placeholder row (a leg fact came first) whose start is not known either; skip: leave it.
Plan = Literal["recover", "complete", "complete_all", "skip"]

SELECT_CDR = """
SELECT * FROM pbx_cdr WHERE linkedid IN (
    SELECT DISTINCT linkedid FROM pbx_cdr WHERE "end" >= $1 AND linkedid <> '')
ORDER BY linkedid, start, sequence, id
"""

CALL_STATES = "SELECT linkedid, ended_at, closed_by, direction FROM calls WHERE linkedid = ANY($1::text[])"


@dataclass(frozen=True)
class Gap:
    """A time the bridge was without AMI, and what the backfill found for it."""

    id: int
    lost_at: datetime
    regained_at: datetime
    backfilled_at: datetime | None
    calls_recovered: int
    calls_completed: int
    error: str

    @property
    def seconds(self) -> float:
        return (self.regained_at - self.lost_at).total_seconds()


async def cdr_rows_since(pool: Pool, since_epoch: float) -> list[CdrRow]:
    """All CDR rows of every call that has a row ending at or after `since_epoch`."""
    return [CdrRow.from_mapping(dict(row.items())) for row in await pool.fetch(SELECT_CDR, since_epoch)]


def plan_for(row: tuple[datetime | None, str | None] | None, cdr_ended_at: float, regained_at: datetime) -> Plan:
    """What to do with one call Asterisk's CDR knows, given its (ended_at, closed_by) in `calls` (None: no row).

    No row: the bridge never saw it. Closed by the resync or the timeout sweep: its end was not seen.
    Still open though its CDR ended before the login: it ended while we were away (too soon before the
    resync's list to be closed by it). Open with CDR ending later, or closed by the PBX: live, leave it.
    """
    if row is None:
        return "recover"
    ended_at, closed_by = row
    if closed_by in ("resync", "timeout"):
        return "complete"
    if ended_at is None and cdr_ended_at <= regained_at.timestamp():
        return "complete"
    return "skip"


async def plans(pool: Pool, recovered: list[RecoveredCall], regained_at: datetime) -> dict[str, Plan]:
    """The plan for each recovered call, by Linkedid."""
    rows = {row["linkedid"]: row for row in await pool.fetch(CALL_STATES, [call.linkedid for call in recovered])}
    out: dict[str, Plan] = {}
    for call in recovered:
        row = rows.get(call.linkedid)
        plan = plan_for(None if row is None else (row["ended_at"], row["closed_by"]), call.ended_at, regained_at)
        placeholder = row is not None and row["direction"] == "unknown"
        out[call.linkedid] = "complete_all" if plan == "complete" and placeholder else plan
    return out


async def write_recovered(pool: Pool, call: RecoveredCall, *, with_start: bool = True,
                          default_region: str = "RU") -> None:
    """Write one call from its CDR through the live upserts, then mark it recovered.

    `with_start=False` for a call seen starting live: its start (time, DID, caller) stays as seen, the
    legs are merged by channel name (the same in the CDR as in the AMI), the end is the CDR's.
    """
    if with_start:
        await calls.record_call_started(pool, call.start, default_region=default_region)
    for leg in call.legs:
        await calls.record_leg(pool, leg)
    if call.queue is not None:
        await calls.record_queue(pool, call.queue)
    await calls.record_call_ended(pool, call.end, default_region=default_region)
    await pool.execute("UPDATE calls SET recovered = true WHERE linkedid = $1", call.linkedid)


# ---- the heartbeat and the gaps -----------------------------------------------------------------------------

async def last_connected(pool: Pool, link: str = LINK) -> datetime | None:
    """When the bridge was last known connected to the AMI (None: never)."""
    value: datetime | None = await pool.fetchval("SELECT last_connected_at FROM pbx_link WHERE name = $1", link)
    return value


async def beat(pool: Pool, at: datetime, link: str = LINK) -> None:
    """The bridge is connected at `at` (never moves the heartbeat back)."""
    await pool.execute(
        "INSERT INTO pbx_link (name, last_connected_at) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
        "SET last_connected_at = greatest(pbx_link.last_connected_at, EXCLUDED.last_connected_at)", link, at)


async def open_gap(pool: Pool, lost_at: datetime, regained_at: datetime) -> int:
    gap_id: int = await pool.fetchval(
        "INSERT INTO pbx_gaps (lost_at, regained_at) VALUES (least($1::timestamptz, $2), $2) RETURNING id",
        lost_at, regained_at)
    return gap_id


async def finish_gap(pool: Pool, gap_id: int, at: datetime, *, recovered: int, completed: int,
                     error: str = "") -> None:
    await pool.execute(
        "UPDATE pbx_gaps SET backfilled_at = CASE WHEN $5 = '' THEN $2::timestamptz END, calls_recovered = $3, "
        "calls_completed = $4, error = $5 WHERE id = $1", gap_id, at, recovered, completed, error[:500])


async def recent_gaps(pool: Pool, limit: int = 20) -> list[Gap]:
    """The latest gaps, newest first."""
    rows = await pool.fetch("SELECT * FROM pbx_gaps ORDER BY regained_at DESC, id DESC LIMIT $1",
                            max(1, min(limit, 200)))
    return [Gap(id=r["id"], lost_at=r["lost_at"], regained_at=r["regained_at"], backfilled_at=r["backfilled_at"],
                calls_recovered=r["calls_recovered"], calls_completed=r["calls_completed"], error=r["error"])
            for r in rows]

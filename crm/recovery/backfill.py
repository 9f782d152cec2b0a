"""After a gap in the bridge's AMI connection: record the gap and build the calls it missed from Asterisk's CDR.

The bridge calls `backfill_gap` after every AMI login that follows an earlier connection (service
restart, reconnect). The gap runs from the last heartbeat (`store.last_connected`) to the login. The
CDR rows read are those of calls that ended after the gap began, and `LOOKBACK` before it: a call whose
end the bridge missed *before* the gap (closed `lost` by the timeout sweep) is completed too, and a
failed backfill is made good by the next one. Each call the CDR knows is then recovered (no record),
completed (a record whose end was not seen) or left alone (recorded live to its end, or still live).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from crm.database import Pool
from crm.errors import CrmError
from crm.recovery import store
from crm.recovery.cdr_calls import recover_calls

log = logging.getLogger(__name__)

#: How far before the gap's start CDR rows are read again (the live tracker's own bound for open calls).
LOOKBACK = timedelta(hours=6)


@dataclass(frozen=True)
class BackfillResult:
    gap_id: int
    recovered: tuple[str, ...] = ()
    completed: tuple[str, ...] = ()


async def backfill(pool: Pool, *, lost_at: datetime, regained_at: datetime, default_region: str = "RU",
                   lookback: timedelta = LOOKBACK) -> tuple[list[str], list[str]]:
    """Write every call the CDR knows that the bridge missed; (recovered, completed) linkedids."""
    rows = await store.cdr_rows_since(pool, (lost_at - lookback).timestamp())
    found = recover_calls(rows)
    plans = await store.plans(pool, found, regained_at)
    recovered: list[str] = []
    completed: list[str] = []
    for call in found:
        plan = plans[call.linkedid]
        if plan == "skip":
            continue
        try:
            await store.write_recovered(pool, call, with_start=plan != "complete", default_region=default_region)
        except (CrmError, asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            log.error("call %s: recovering it from the CDR failed, skipped: %s", call.linkedid, exc)
            continue
        (recovered if plan == "recover" else completed).append(call.linkedid)
        log.info("call %s %s from the CDR: %s %s", call.linkedid, "recovered" if plan == "recover" else "completed",
                 call.end.outcome, call.end.reason or call.end.answered_by or "")
    return recovered, completed


async def backfill_gap(pool: Pool, *, lost_at: datetime, regained_at: datetime, now: datetime,
                       default_region: str = "RU", lookback: timedelta = LOOKBACK) -> BackfillResult:
    """Record the gap, backfill it, and store what was found (or why it failed, then re-raised)."""
    gap_id = await store.open_gap(pool, lost_at, regained_at)
    try:
        recovered, completed = await backfill(pool, lost_at=lost_at, regained_at=regained_at,
                                              default_region=default_region, lookback=lookback)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        await store.finish_gap(pool, gap_id, now, recovered=0, completed=0, error=f"backfill failed: {exc!r}")
        raise
    await store.finish_gap(pool, gap_id, now, recovered=len(recovered), completed=len(completed))
    if recovered or completed:
        log.warning("AMI gap %s .. %s: %d calls recovered from the CDR, %d completed: %s", lost_at.isoformat(),
                    regained_at.isoformat(), len(recovered), len(completed), ", ".join((recovered + completed)[:20]))
    return BackfillResult(gap_id=gap_id, recovered=tuple(recovered), completed=tuple(completed))

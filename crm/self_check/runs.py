"""Self-check runs in the database: claimed once per scheduled moment, placed by the PBX holder, judged by the
call that came back.

A run's life: `pending` (claimed by the minutely job, or asked for by a supervisor) → `calling` (the
instance holding the AMI connection sent the Originate, web/self_check_caller.py) → `answered` or
`missed` when the shop's inbound call from `caller` to `did` ends (`claim_call`, from the `call_ended`
job) — or `refused` (the PBX would not place it) / `no_call` (nothing arrived: trunk or provider trouble).
Both legs of a test call point at the run (`calls.self_check_run_id`) and every figure skips them.
A missed test call still gets its callback task, as a real one would: whether that task was worked
within the deadline is the run's last verdict.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm import customers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import InvalidInput
from crm.self_check.schedule import ARRIVE_WITHIN, PLACE_WITHIN, SelfCheckSettings

#: The contact the test call's number is kept under, so the operator's phone and pop say what it is.
CONTACT_NAME = "Проверочный звонок perezvon"
#: A test call may be seen starting a little before the Originate's time (clocks of PBX and database).
EARLY = timedelta(seconds=10)


@dataclass(frozen=True)
class Run:
    id: int
    linkedid: str
    did: str
    caller: str
    wait_s: int


@dataclass(frozen=True)
class RunView:
    """One line of the results: what happened to a test call and to its callback."""

    id: int
    slot: datetime | None
    created_at: datetime
    state: str
    error: str
    ring_s: float | None
    requested_by: str | None
    callback_task_id: int | None
    #: '' (none needed), 'open', 'on_time', 'late', 'overdue'.
    callback: str


async def load_settings(pool: Pool) -> SelfCheckSettings:
    row = await pool.fetchrow("SELECT * FROM self_check_settings")
    if row is None:
        return SelfCheckSettings()
    return SelfCheckSettings(row["enabled"], tuple(row["weekdays"]), row["at_time"], row["did"], row["caller"],
                             row["wait_s"])


async def save_settings(pool: Pool, settings: SelfCheckSettings, *, default_region: str = "RU") -> SelfCheckSettings:
    """Store the schedule; the caller's number gets a contact of its own when it has none (see CONTACT_NAME)."""
    clean = settings.validated()
    if clean.caller and await customers.find_by_phone(pool, clean.caller, default_region=default_region) is None:
        await customers.create_customer(pool, CustomerInput(name=CONTACT_NAME, phones=(clean.caller,)),
                                        default_region=default_region)
    await pool.execute("UPDATE self_check_settings SET enabled = $1, weekdays = $2, at_time = $3, did = $4, "
                       "caller = $5, wait_s = $6", clean.enabled, list(clean.weekdays), clean.at_time, clean.did,
                       clean.caller, clean.wait_s)
    return clean


def _linkedid() -> str:
    return f"selfcheck-{uuid.uuid4().hex[:22]}"


async def claim_slot(pool: Pool, settings: SelfCheckSettings, slot: datetime) -> int | None:
    """A run for this scheduled moment, unless another worker (or an earlier minute) made it already."""
    run_id: int | None = await pool.fetchval(
        "INSERT INTO self_check_runs (slot, linkedid, did, caller, wait_s) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (slot) DO NOTHING RETURNING id", slot, _linkedid(), settings.did, settings.caller,
        settings.wait_s)
    return run_id


async def request_run(pool: Pool, settings: SelfCheckSettings, manager_id: int | None) -> int:
    """A test call now, asked for on the page; one at a time (two would come back as each other's)."""
    if not settings.ready:
        raise InvalidInput("to place a self-check call, give the number to call and the number it comes from")
    busy = await pool.fetchval("SELECT count(*) FROM self_check_runs WHERE state IN ('pending', 'calling')")
    if busy:
        raise InvalidInput("a self-check call is already under way: wait for its result")
    run_id: int = await pool.fetchval(
        "INSERT INTO self_check_runs (requested_by, linkedid, did, caller, wait_s) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING id", manager_id, _linkedid(), settings.did, settings.caller, settings.wait_s)
    return run_id


async def take_pending(pool: Pool) -> Run | None:
    """The next run to place, marked `calling` (one instance takes each: the row is locked while marked)."""
    row = await pool.fetchrow(
        "UPDATE self_check_runs SET state = 'calling', placed_at = now() WHERE id = ("
        "  SELECT id FROM self_check_runs WHERE state = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) "
        "RETURNING id, linkedid, did, caller, wait_s")
    if row is None:
        return None
    return Run(row["id"], row["linkedid"], row["did"], row["caller"], row["wait_s"])


async def refuse(pool: Pool, run_id: int, error: str) -> None:
    await pool.execute("UPDATE self_check_runs SET state = 'refused', error = $2, finished_at = now() "
                       "WHERE id = $1 AND state IN ('pending', 'calling')", run_id, error[:500])


async def expire(pool: Pool, now: datetime) -> int:
    """Runs nobody placed, and runs whose call never reached the shop: each gets its verdict once."""
    refused = await pool.execute(
        "UPDATE self_check_runs SET state = 'refused', finished_at = $1, "
        "error = 'no instance holding the PBX connection placed it' "
        "WHERE state = 'pending' AND created_at < $2", now, now - PLACE_WITHIN)
    no_call = await pool.execute(
        "UPDATE self_check_runs r SET state = 'no_call', finished_at = $1, "
        "error = 'the test call did not reach the shop''s number' "
        "WHERE r.state = 'calling' AND r.placed_at < $2 AND NOT EXISTS ("
        "  SELECT 1 FROM calls c WHERE c.direction = 'inbound' AND c.customer_e164 = r.caller "
        "  AND c.started_at BETWEEN r.placed_at - $3::interval AND r.placed_at + $4::interval)",
        now, now - ARRIVE_WITHIN, EARLY, ARRIVE_WITHIN)
    return int(refused.split()[-1]) + int(no_call.split()[-1])


async def claim_call(pool: Pool, linkedid: str) -> int | None:
    """Mark an ended call that belongs to a test call; the run of the shop's inbound leg gets its verdict.

    Run by the `call_ended` job before the callback logic, so the test call is known as one before it
    is counted anywhere. Returns the run's id, None for an ordinary call.
    """
    async with pool.acquire() as conn, conn.transaction():
        call = await conn.fetchrow("SELECT id, direction, customer_e164, started_at, answered_at, outcome, ring_s, "
                                   "self_check_run_id FROM calls WHERE linkedid = $1 FOR UPDATE", linkedid)
        if call is None:
            return None
        if call["self_check_run_id"] is not None:
            return int(call["self_check_run_id"])
        run_id = await conn.fetchval("SELECT id FROM self_check_runs WHERE linkedid = $1", linkedid)
        if run_id is None and call["direction"] == "inbound" and call["customer_e164"]:
            run_id = await conn.fetchval(
                "SELECT id FROM self_check_runs WHERE state = 'calling' AND caller = $1 AND inbound_call_id IS NULL "
                "AND $2 BETWEEN placed_at - $3::interval AND placed_at + $4::interval ORDER BY placed_at DESC "
                "LIMIT 1 FOR UPDATE", call["customer_e164"], call["started_at"], EARLY, ARRIVE_WITHIN)
            if run_id is not None:
                answered = call["outcome"] == "answered"
                ring_s = ((call["answered_at"] - call["started_at"]).total_seconds() if call["answered_at"]
                          else call["ring_s"])
                await conn.execute("UPDATE self_check_runs SET state = $2, inbound_call_id = $3, ring_s = $4, "
                                   "finished_at = now() WHERE id = $1", run_id,
                                   "answered" if answered else "missed", call["id"], ring_s)
        if run_id is None:
            return None
        await conn.execute("UPDATE calls SET self_check_run_id = $2 WHERE id = $1", call["id"], run_id)
        return int(run_id)


RECENT = """
SELECT r.id, r.slot, r.created_at, r.state, r.error, r.ring_s, m.display_name AS requested_by,
       t.id AS task_id, t.status AS task_status, t.due_at, t.closed_at
FROM self_check_runs r
LEFT JOIN managers m ON m.id = r.requested_by
LEFT JOIN calls c ON c.id = r.inbound_call_id
LEFT JOIN tasks t ON t.id = c.callback_task_id
ORDER BY r.created_at DESC, r.id DESC LIMIT $1
"""


def callback_verdict(state: str, task_status: str | None, due_at: datetime | None, closed_at: datetime | None,
                     now: datetime) -> str:
    """What became of a missed test call's callback: on time, late, overdue, still open; '' when none was due."""
    if state != "missed" or task_status is None:
        return ""
    if task_status == "open":
        return "overdue" if due_at is not None and now > due_at else "open"
    if due_at is None or closed_at is None or closed_at <= due_at:
        return "on_time"
    return "late"


async def recent_runs(pool: Pool, now: datetime, limit: int = 30) -> list[RunView]:
    return [RunView(r["id"], r["slot"], r["created_at"], r["state"], r["error"], r["ring_s"], r["requested_by"],
                    r["task_id"], callback_verdict(r["state"], r["task_status"], r["due_at"], r["closed_at"], now))
            for r in await pool.fetch(RECENT, limit)]

"""Call records: each call is one `calls` row keyed by Asterisk's Linkedid, with one `call_legs` row per device.

The PBX adapter hands us what happened in the CRM's own words (the input dataclasses below; this
module knows nothing of AMI). Every write is an upsert keyed by the Linkedid and (call, channel)
whose values come only from the input, so replaying the same inputs in the same order leaves the
tables as they were; values that must not move once set (who a leg belonged to, which customer
and order a call is about) are kept from the first write.

A customer number no customer has becomes a new contact ("Новый клиент +7 916 ..."). The phone's
primary key makes that happen once even when two calls from the same new number are written at the
same moment: the loser of the race drops its contact and links the winner's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from crm.database import Connection, Pool
from crm.models import (
    Call,
    CallDirection,
    CallLeg,
    CallOutcome,
    CallRecording,
    CallRoute,
    CallTransfer,
    LegResult,
    Manager,
    Page,
)
from crm.phones import format_phone, normalize_phone, try_normalize_phone
from crm.sql import SqlParams
from crm.validation import strip_control_chars

log = logging.getLogger(__name__)

NEW_CONTACT_NAME = "Новый клиент {phone}"
MAX_RAW = 80

_MANAGER_OF = "(SELECT manager_id FROM manager_extensions WHERE extension = {p})"


@dataclass(frozen=True)
class CallStart:
    linkedid: str
    at: datetime
    direction: CallDirection
    #: Customer number (inbound) or the calling operator's extension (outbound, internal), raw.
    caller: str | None
    #: The DID (inbound) or the number/extension dialled (outbound, internal), raw.
    dialled: str | None
    click_to_call: bool = False
    resynced: bool = False
    #: The caller-ID name on the caller's channel as the PBX first reported it (inbound).
    caller_name: str = ""


@dataclass(frozen=True)
class LegEvent:
    """A leg rang, was answered, or ended; later fields are None/'' when the event does not carry them."""

    linkedid: str
    at: datetime
    channel: str
    extension: str | None
    number: str | None
    state: str  # "ringing" | "answered" | "ended"
    ring_s: float | None = None
    dial_status: str = ""
    result: LegResult | None = None


@dataclass(frozen=True)
class CallEnd:
    linkedid: str
    at: datetime
    direction: CallDirection
    outcome: CallOutcome
    #: Why a missed call was missed ('' when answered).
    reason: str
    answered_by: str | None
    #: The operator the call belongs to (who answered inbound, who placed outbound).
    operator: str | None
    customer_number: str | None
    hung_up_by: str | None
    hung_up_by_extension: str | None
    ring_s: float | None
    talk_s: float | None
    click_to_call: bool = False


@dataclass(frozen=True)
class TalkTime:
    """Asterisk's own talk time for an answered call whose answer the bridge did not see (`at`: its end)."""

    linkedid: str
    at: datetime
    talk_s: float


@dataclass(frozen=True)
class QueueEvent:
    linkedid: str
    at: datetime
    queue: str
    #: How long the caller waited in the queue, when the queue said (connected to a member, abandon, timeout).
    hold_s: float | None = None
    #: The caller's place on joining, and on leaving the waiting list.
    joined_position: int | None = None
    left_position: int | None = None


@dataclass(frozen=True)
class TransferEvent:
    """One settled transfer: `to` is the person who took it (None: nobody), `target` what was dialled."""

    linkedid: str
    at: datetime
    kind: str  # "blind" | "attended"
    from_extension: str | None
    to: str | None
    target: str | None = None
    result: str = "completed"
    seq: int = 1


def clean_raw(value: str | None, max_len: int = MAX_RAW) -> str:
    """A PBX-supplied string made safe to store: control characters dropped, length capped.

    Caller IDs come from whoever dialled in, so they may hold anything (NUL bytes PostgreSQL
    refuses, terminal escapes, markup); the templates escape markup, this removes the rest.
    """
    if not value:
        return ""
    return strip_control_chars(value).strip()[:max_len]


#: What providers and Asterisk put where a hidden caller's number would be.
_NO_NUMBER = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld"})


#: Presentations whose number never becomes a new contact.
HIDDEN = frozenset({"restricted", "anonymous"})


def caller_presentation(raw_number: str | None, *, restricted: bool = False) -> str:
    """'anonymous' (no usable number), 'restricted' (the caller hid it; the network may still pass it), else
    'allowed'. Neither of the first two ever makes a new contact: there is no number to call back, or the
    caller asked not to be identified."""
    if clean_raw(raw_number).lower() in _NO_NUMBER:
        return "anonymous"
    return "restricted" if restricted else "allowed"


def caller_name_of(name: str | None, number: str | None) -> str:
    """The caller-ID name worth keeping: cleaned, and '' when it only repeats the number (many networks
    send the number as the name)."""
    cleaned = clean_raw(name)
    return "" if cleaned == clean_raw(number) else cleaned


def _seconds(value: float | None) -> float | None:
    return None if value is None else max(0.0, float(value))


def _position(value: int | None) -> int | None:
    """A queue position as the table takes it (1 = next); Asterisk never sends 0 or less, nobody else may."""
    return value if value is not None and 0 < value < 100_000 else None


def customer_number_of(direction: str, caller: str | None, dialled: str | None, click_to_call: bool) -> str | None:
    """Which raw number of a starting call is the customer's: the caller inbound, the number dialled outbound."""
    if direction == "inbound":
        return caller
    if direction == "outbound" and not click_to_call:
        return dialled
    return None


async def _customer_for_number(conn: Connection, e164: str, *, create: bool = True,
                               call_id: int | None = None) -> int | None:
    """The id of the customer owning `e164`, creating the "new contact" when nobody does (and `create`)."""
    owner: int | None = await conn.fetchval("SELECT customer_id FROM customer_phones WHERE e164 = $1", e164)
    if owner is not None or not create:
        return owner
    new_id: int = await conn.fetchval("INSERT INTO customers (name, created_by_call) VALUES ($1, $2) RETURNING id",
                                      NEW_CONTACT_NAME.format(phone=format_phone(e164)), call_id)
    # A concurrent writer holding the same number makes this wait for it, then do nothing.
    owner = await conn.fetchval(
        "INSERT INTO customer_phones (e164, customer_id) VALUES ($1, $2) ON CONFLICT (e164) DO NOTHING "
        "RETURNING customer_id", e164, new_id)
    if owner is None:
        await conn.execute("DELETE FROM customers WHERE id = $1", new_id)
        owner = await conn.fetchval("SELECT customer_id FROM customer_phones WHERE e164 = $1", e164)
    else:
        log.info("new contact %s for %s", new_id, e164)
    return owner


async def _link_customer(conn: Connection, call_id: int, raw_number: str | None, default_region: str) -> None:
    """Link the call to the customer with this number (first link wins); unknown numbers become contacts."""
    e164 = try_normalize_phone(clean_raw(raw_number), default_region) if raw_number else None
    if e164 is None:
        return
    row = await conn.fetchrow(
        "UPDATE calls SET customer_e164 = coalesce(customer_e164, $2) WHERE id = $1 "
        "RETURNING customer_id, caller_presentation", call_id, e164)
    if row is None or row["customer_id"] is not None:
        return
    # A hidden number links to a customer the shop already has, but never becomes a new contact.
    customer_id = await _customer_for_number(conn, e164, create=row["caller_presentation"] not in HIDDEN,
                                             call_id=call_id)
    if customer_id is None:
        return
    await conn.execute("UPDATE calls SET customer_id = $2 WHERE id = $1 AND customer_id IS NULL", call_id, customer_id)


RECORD_START = f"""
INSERT INTO calls (linkedid, direction, caller, callee, did, started_at, click_to_call, resynced,
                   operator_extension, manager_id, caller_name, caller_presentation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {_MANAGER_OF.format(p="$9")}, $10, $11)
ON CONFLICT (linkedid) DO UPDATE SET
    caller_name = CASE WHEN calls.caller_name = '' THEN EXCLUDED.caller_name ELSE calls.caller_name END,
    caller_presentation = CASE WHEN calls.caller_presentation = '' THEN EXCLUDED.caller_presentation
                               ELSE calls.caller_presentation END,
    direction = EXCLUDED.direction, caller = EXCLUDED.caller, did = EXCLUDED.did,
    callee = CASE WHEN calls.callee = '' THEN EXCLUDED.callee ELSE calls.callee END,
    -- A call first seen by a resync (its start estimated from Asterisk's whole-second Duration) keeps the
    -- start recorded before, when there is one.
    started_at = CASE WHEN EXCLUDED.resynced THEN least(calls.started_at, EXCLUDED.started_at)
                      ELSE EXCLUDED.started_at END,
    click_to_call = calls.click_to_call OR EXCLUDED.click_to_call, resynced = EXCLUDED.resynced,
    operator_extension = CASE WHEN calls.operator_extension = '' THEN EXCLUDED.operator_extension
                              ELSE calls.operator_extension END,
    manager_id = coalesce(calls.manager_id, EXCLUDED.manager_id)
RETURNING id
"""


async def record_call_started(pool: Pool, data: CallStart, *, default_region: str = "RU") -> None:
    """A call began: create (or complete) its row and link the customer by number."""
    caller, dialled = clean_raw(data.caller), clean_raw(data.dialled)
    inbound = data.direction == "inbound"
    operator = "" if inbound else caller
    async with pool.acquire() as conn, conn.transaction():
        name = caller_name_of(data.caller_name, caller) if inbound else ""
        presentation = caller_presentation(caller) if inbound else ""
        call_id: int = await conn.fetchval(
            RECORD_START, clean_raw(data.linkedid), data.direction, caller, "" if inbound else dialled,
            dialled if inbound else "", data.at, data.click_to_call, data.resynced, operator, name, presentation)
        if data.click_to_call:  # placed from the panel or the API: the customer, task and order it was for
            await conn.execute(LINK_CLICK_TO_CALL, call_id)
        await _link_customer(conn, call_id, customer_number_of(data.direction, caller, dialled, data.click_to_call),
                             default_region)


LINK_CLICK_TO_CALL = """
UPDATE calls c SET customer_id = coalesce(c.customer_id, r.customer_id), task_id = coalesce(c.task_id, r.task_id),
                   order_id = coalesce(c.order_id, r.order_id),
                   customer_e164 = coalesce(c.customer_e164, r.phone)
FROM click_to_call r WHERE c.id = $1 AND r.linkedid = c.linkedid
"""


# A fact about a call we have not seen start (its CallStarted was lost) makes a placeholder row.
ENSURE_CALL = """
INSERT INTO calls (linkedid, direction, started_at) VALUES ($1, 'unknown', $2)
ON CONFLICT (linkedid) DO UPDATE SET direction = calls.direction
RETURNING id, direction
"""


async def _ensure_call(conn: Connection, linkedid: str, at: datetime) -> tuple[int, str]:
    """The call's id and direction, with a placeholder row when the call is new (no write when it is not)."""
    row = await conn.fetchrow("SELECT id, direction FROM calls WHERE linkedid = $1", linkedid)
    if row is None:
        row = await conn.fetchrow(ENSURE_CALL, linkedid, at)
        assert row is not None
    return row["id"], row["direction"]

RECORD_LEG = f"""
INSERT INTO call_legs (call_id, channel, extension, number, manager_id, ringing_at, answered_at, ended_at,
                       dial_status, ring_s, result)
VALUES ($1, $2, $3, $4, {_MANAGER_OF.format(p="$3")}, $5, $6, $7, coalesce($8, ''), $9, $10)
ON CONFLICT (call_id, channel) DO UPDATE SET
    extension = coalesce(call_legs.extension, EXCLUDED.extension),
    number = coalesce(call_legs.number, EXCLUDED.number),
    manager_id = coalesce(call_legs.manager_id, EXCLUDED.manager_id),
    ringing_at = coalesce(call_legs.ringing_at, EXCLUDED.ringing_at),
    answered_at = coalesce(EXCLUDED.answered_at, call_legs.answered_at),
    ended_at = coalesce(EXCLUDED.ended_at, call_legs.ended_at),
    dial_status = coalesce($8, call_legs.dial_status),
    ring_s = coalesce(EXCLUDED.ring_s, call_legs.ring_s),
    result = coalesce(EXCLUDED.result, call_legs.result)
"""


async def record_leg(pool: Pool, data: LegEvent) -> None:
    """A leg rang, answered or ended; the first answer of a live call also marks the call answered."""
    at = data.at
    extension, number = clean_raw(data.extension) or None, clean_raw(data.number) or None
    async with pool.acquire() as conn, conn.transaction():
        call_id, direction = await _ensure_call(conn, clean_raw(data.linkedid), at)
        await conn.execute(
            RECORD_LEG, call_id, clean_raw(data.channel, 200) or "?", extension, number,
            at if data.state == "ringing" else None, at if data.state == "answered" else None,
            at if data.state == "ended" else None, clean_raw(data.dial_status, 32) or None,
            _seconds(data.ring_s), data.result)
        # A person picked up: an operator for inbound/internal calls, the customer for outbound ones.
        person = number if direction == "outbound" else extension
        if data.state == "answered" and person:
            await conn.execute("UPDATE calls SET answered_at = coalesce(answered_at, $2) "
                               "WHERE id = $1 AND outcome IS NULL", call_id, at)


RECORD_END = f"""
INSERT INTO calls (linkedid, direction, caller, callee, started_at, ended_at, answered_at, outcome, reason,
                   answered_by, operator_extension, manager_id, hung_up_by, hung_up_by_extension,
                   ring_s, talk_s, click_to_call, closed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {_MANAGER_OF.format(p="$11")}, $12, $13, $14, $15, $16,
        'pbx')
ON CONFLICT (linkedid) DO UPDATE SET
    direction = EXCLUDED.direction,
    started_at = CASE WHEN calls.direction = 'unknown' THEN least(calls.started_at, EXCLUDED.started_at)
                      ELSE calls.started_at END,
    caller = CASE WHEN calls.caller = '' THEN EXCLUDED.caller ELSE calls.caller END,
    callee = CASE WHEN calls.callee = '' THEN EXCLUDED.callee ELSE calls.callee END,
    ended_at = EXCLUDED.ended_at,
    -- An answer before the bridge looked has no talk time yet: keep the answer the legs recorded.
    answered_at = CASE WHEN EXCLUDED.outcome = 'answered' THEN coalesce(EXCLUDED.answered_at, calls.answered_at)
                       ELSE EXCLUDED.answered_at END,
    outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, answered_by = EXCLUDED.answered_by,
    operator_extension = CASE WHEN EXCLUDED.operator_extension = '' THEN calls.operator_extension
                              ELSE EXCLUDED.operator_extension END,
    manager_id = coalesce(EXCLUDED.manager_id, calls.manager_id),
    hung_up_by = EXCLUDED.hung_up_by, hung_up_by_extension = EXCLUDED.hung_up_by_extension,
    ring_s = EXCLUDED.ring_s, talk_s = EXCLUDED.talk_s,
    click_to_call = calls.click_to_call OR EXCLUDED.click_to_call, closed_by = 'pbx'
RETURNING id
"""

# The order a call is about, until routing says: the customer's latest order still open when the call ended.
LINK_OPEN_ORDER = """
UPDATE calls c SET order_id = (
    SELECT o.id FROM orders o JOIN order_statuses s ON s.code = o.status
    WHERE o.customer_id = c.customer_id AND NOT s.is_final AND o.created_at <= c.ended_at
    ORDER BY o.created_at DESC, o.id DESC LIMIT 1)
WHERE c.id = $1 AND c.order_id IS NULL AND c.customer_id IS NOT NULL
"""


# The contact made for this call's unknown number gets the call's operator as its responsible manager.
NEW_CONTACT_OWNER = """
UPDATE customers cu SET responsible_manager_id = c.manager_id, updated_at = now()
FROM calls c
WHERE c.id = $1 AND cu.id = c.customer_id AND cu.created_by_call = c.id AND cu.responsible_manager_id IS NULL
  AND c.outcome = 'answered' AND c.manager_id IS NOT NULL
  AND (SELECT new_contact_owner FROM routing_settings) = 'answered'
"""


async def record_call_ended(pool: Pool, data: CallEnd, *, default_region: str = "RU") -> None:
    """The call is over: its outcome, who answered and hung up, durations; customer and order linked."""
    ring_s, talk_s = _seconds(data.ring_s), _seconds(data.talk_s)
    answered_at = None
    if data.outcome == "answered" and talk_s is not None:
        answered_at = data.at - timedelta(seconds=talk_s)
    started_guess = data.at - timedelta(seconds=(ring_s or 0.0) + (talk_s or 0.0))
    operator, customer = clean_raw(data.operator), clean_raw(data.customer_number)
    answered_by = clean_raw(data.answered_by)
    if data.direction == "inbound":
        caller, callee = customer, answered_by
    else:
        caller, callee = operator, customer if data.direction == "outbound" else answered_by
    async with pool.acquire() as conn, conn.transaction():
        call_id: int = await conn.fetchval(
            RECORD_END, clean_raw(data.linkedid), data.direction, caller, callee, started_guess, data.at,
            answered_at, data.outcome, clean_raw(data.reason, 32) if data.outcome == "missed" else "",
            answered_by, operator, data.hung_up_by, clean_raw(data.hung_up_by_extension), ring_s, talk_s,
            data.click_to_call)
        if data.direction in ("inbound", "outbound"):
            await _link_customer(conn, call_id, data.customer_number, default_region)
        await conn.execute(LINK_OPEN_ORDER, call_id)
        await conn.execute(NEW_CONTACT_OWNER, call_id)


RECORD_TALK_TIME = """
UPDATE calls SET talk_s = $2, answered_at = ended_at - make_interval(secs => $2),
                 ring_s = greatest(0, extract(epoch FROM ended_at - make_interval(secs => $2) - started_at))
WHERE linkedid = $1 AND outcome = 'answered' AND talk_s IS NULL AND ended_at IS NOT NULL
"""


async def record_talk_time(pool: Pool, data: TalkTime) -> None:
    """Fill in the talk time (and so the answer time and the wait) of an answered call that lacked it."""
    await pool.execute(RECORD_TALK_TIME, clean_raw(data.linkedid), _seconds(data.talk_s))


async def record_queue(pool: Pool, data: QueueEvent) -> None:
    """The caller joined, was connected from, or left a queue: which, their place, how long they waited."""
    async with pool.acquire() as conn, conn.transaction():
        call_id, _ = await _ensure_call(conn, clean_raw(data.linkedid), data.at)
        await conn.execute(
            "UPDATE calls SET queue = $2, queue_hold_s = coalesce($3, queue_hold_s), "
            "queue_position = coalesce($4, queue_position), queue_left_position = coalesce($5, queue_left_position) "
            "WHERE id = $1", call_id, clean_raw(data.queue), _seconds(data.hold_s), _position(data.joined_position),
            _position(data.left_position))


TRANSFER_RESULTS = frozenset({"completed", "busy", "no_answer", "failed", "abandoned"})

RECORD_TRANSFER = """
INSERT INTO call_transfers (call_id, seq, at, kind, from_extension, target, taken_by, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (call_id, seq) DO UPDATE SET
    at = EXCLUDED.at, kind = EXCLUDED.kind, from_extension = EXCLUDED.from_extension, target = EXCLUDED.target,
    taken_by = EXCLUDED.taken_by, result = EXCLUDED.result
"""


async def record_transfer(pool: Pool, data: TransferEvent) -> None:
    """A transfer settled: kept in order with the call's others; the call's summary shows the latest one taken."""
    kind = data.kind if data.kind in ("blind", "attended") else None
    if kind is None:
        log.warning("call %s: transfer of unknown kind %r not recorded", data.linkedid, data.kind)
        return
    result = data.result if data.result in TRANSFER_RESULTS else "failed"
    taken_by = clean_raw(data.to)
    async with pool.acquire() as conn, conn.transaction():
        call_id, _ = await _ensure_call(conn, clean_raw(data.linkedid), data.at)
        await conn.execute(RECORD_TRANSFER, call_id, max(1, data.seq), data.at, kind, clean_raw(data.from_extension),
                           clean_raw(data.target), taken_by, result)
        await conn.execute(
            "UPDATE calls SET transfer_kind = $2, transferred_from = $3, transferred_to = $4 WHERE id = $1",
            call_id, kind, clean_raw(data.from_extension), taken_by or clean_raw(data.target))


# ---- reading: the journal, the customer card, the API -------------------------------------------------------

SELECT_CALL = """
SELECT c.*, cu.name AS customer_name, o.number AS order_number, m.display_name AS manager_name,
       (SELECT coalesce(json_agg(json_build_object('id', r.id, 'kind', r.kind, 'duration_s', r.duration_s,
                                                   'keep', r.keep, 'state', r.state) ORDER BY r.id), '[]')
        FROM recordings r WHERE r.call_id = c.id AND r.state <> 'deleted') AS recording_list
FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id LEFT JOIN orders o ON o.id = c.order_id
LEFT JOIN managers m ON m.id = c.manager_id
"""

SELECT_TRANSFERS = """
SELECT * FROM call_transfers WHERE call_id = ANY($1::bigint[]) ORDER BY call_id, seq
"""

SELECT_LEGS = """
SELECT l.*, m.display_name AS manager_name FROM call_legs l LEFT JOIN managers m ON m.id = l.manager_id
WHERE l.call_id = ANY($1::bigint[]) ORDER BY l.call_id, coalesce(l.ringing_at, l.answered_at, l.ended_at), l.id
"""

# A manager's calls: they were its operator, or one of its legs rang them.
INVOLVES = ("(c.manager_id = {p} OR EXISTS (SELECT 1 FROM call_legs il WHERE il.call_id = c.id "
            "AND il.manager_id = {p}))")

LIST_LIMIT_MAX = 200


@dataclass(frozen=True)
class CallFilter:
    """Journal filters; `started_before` is exclusive. `phone` is any format (a bad one raises InvalidPhone)."""

    started_from: datetime | None = None
    started_before: datetime | None = None
    outcome: CallOutcome | None = None
    direction: CallDirection | None = None
    manager_id: int | None = None
    customer_id: int | None = None
    phone: str | None = None


def _leg(row: asyncpg.Record) -> CallLeg:
    return CallLeg(
        channel=row["channel"], extension=row["extension"], number=row["number"], manager_id=row["manager_id"],
        manager_name=row["manager_name"], ringing_at=row["ringing_at"], answered_at=row["answered_at"],
        ended_at=row["ended_at"], dial_status=row["dial_status"], ring_s=row["ring_s"], result=row["result"])


def _route(row: asyncpg.Record) -> CallRoute | None:
    """The routing decision recorded on the row (crm/routing/data.py writes it); None when routing never ran."""
    if not row["route_reason"]:
        return None
    return CallRoute(reason=row["route_reason"], targets=row["route_targets"], explanation=row["route_explain"],
                     routed_at=row["routed_at"])


def _transfer(row: asyncpg.Record) -> CallTransfer:
    return CallTransfer(seq=row["seq"], at=row["at"], kind=row["kind"], from_extension=row["from_extension"],
                        target=row["target"], taken_by=row["taken_by"], result=row["result"])


def _call(row: asyncpg.Record, legs: tuple[CallLeg, ...], transfers: tuple[CallTransfer, ...] = ()) -> Call:
    return Call(
        id=row["id"], linkedid=row["linkedid"], direction=row["direction"], caller=row["caller"],
        callee=row["callee"], did=row["did"], customer_e164=row["customer_e164"], customer_id=row["customer_id"],
        customer_name=row["customer_name"], order_id=row["order_id"], order_number=row["order_number"],
        manager_id=row["manager_id"], manager_name=row["manager_name"], operator_extension=row["operator_extension"],
        started_at=row["started_at"], answered_at=row["answered_at"], ended_at=row["ended_at"],
        outcome=row["outcome"], reason=row["reason"], answered_by=row["answered_by"], hung_up_by=row["hung_up_by"],
        hung_up_by_extension=row["hung_up_by_extension"], ring_s=row["ring_s"], talk_s=row["talk_s"],
        click_to_call=row["click_to_call"], queue=row["queue"], queue_hold_s=row["queue_hold_s"],
        queue_position=row["queue_position"], queue_left_position=row["queue_left_position"],
        transfer_kind=row["transfer_kind"],
        transferred_to=row["transferred_to"], legs=legs, route=_route(row), closed_by=row["closed_by"],
        recovered=row["recovered"], transfers=transfers, caller_name=row["caller_name"],
        caller_presentation=row["caller_presentation"], task_id=row["task_id"], disposition=row["disposition"],
        recording_state=row["recording_state"], recordings=_recordings(row["recording_list"]))


def _recordings(raw: object) -> tuple[CallRecording, ...]:
    """The call's playable recordings from the row's JSON list (crm/recordings.py writes them; the pool's codec
    decodes json, a bare connection gives the text)."""
    items = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list):
        return ()
    return tuple(CallRecording(id=int(r["id"]), kind=str(r["kind"]), duration_s=float(r["duration_s"]),
                               keep=bool(r["keep"]), state=str(r["state"])) for r in items)


async def _with_legs(pool: Pool, rows: list[asyncpg.Record]) -> list[Call]:
    legs: dict[int, list[CallLeg]] = {}
    transfers: dict[int, list[CallTransfer]] = {}
    if rows:
        ids = [r["id"] for r in rows]
        for leg_row in await pool.fetch(SELECT_LEGS, ids):
            legs.setdefault(leg_row["call_id"], []).append(_leg(leg_row))
        for transfer_row in await pool.fetch(SELECT_TRANSFERS, ids):
            transfers.setdefault(transfer_row["call_id"], []).append(_transfer(transfer_row))
    return [_call(r, tuple(legs.get(r["id"], ())), tuple(transfers.get(r["id"], ()))) for r in rows]


async def get_call(pool: Pool, linkedid: str) -> Call | None:
    """The call with this Asterisk Linkedid, with its legs."""
    row = await pool.fetchrow(SELECT_CALL + " WHERE c.linkedid = $1", linkedid)
    return None if row is None else (await _with_legs(pool, [row]))[0]


async def list_calls(pool: Pool, viewer: Manager, flt: CallFilter, *, limit: int = 50, offset: int = 0,
                     default_region: str = "RU") -> Page:
    """Calls newest first, filtered; operators see only calls they took, placed, or that rang them."""
    limit = max(1, min(limit, LIST_LIMIT_MAX))
    offset = max(0, offset)
    conditions: list[str] = []
    arg = SqlParams()

    if not viewer.sees_everything:
        conditions.append(INVOLVES.format(p=arg(viewer.id)))
    if flt.manager_id is not None:
        conditions.append(INVOLVES.format(p=arg(flt.manager_id)))
    if flt.started_from is not None:
        conditions.append(f"c.started_at >= {arg(flt.started_from)}")
    if flt.started_before is not None:
        conditions.append(f"c.started_at < {arg(flt.started_before)}")
    if flt.outcome is not None:
        conditions.append(f"c.outcome = {arg(flt.outcome)}")
    if flt.direction is not None:
        conditions.append(f"c.direction = {arg(flt.direction)}")
    if flt.customer_id is not None:
        conditions.append(f"c.customer_id = {arg(flt.customer_id)}")
    if flt.phone is not None and flt.phone.strip():
        conditions.append(f"c.customer_e164 = {arg(normalize_phone(flt.phone, default_region))}")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = await pool.fetch(
        SELECT_CALL + where + f" ORDER BY c.started_at DESC, c.id DESC LIMIT {arg(limit + 1)} OFFSET {arg(offset)}",
        *arg.values)
    return Page(items=tuple(await _with_legs(pool, rows[:limit])), has_more=len(rows) > limit)


async def list_customer_calls(pool: Pool, customer_id: int, limit: int = 20) -> list[Call]:
    """The customer card's calls block: the customer's latest calls, newest first (the card checks access)."""
    rows = await pool.fetch(SELECT_CALL + " WHERE c.customer_id = $1 ORDER BY c.started_at DESC, c.id DESC LIMIT $2",
                            customer_id, max(1, min(limit, LIST_LIMIT_MAX)))
    return await _with_legs(pool, rows)

"""The call-record adapter: the call tracker's facts, written into the CRM as call records.

It sits in the composition root because it is the one place that knows both sides: it reads
`pbx_bridge` facts and calls `crm.calls` with the CRM's own input records, so neither package
imports the other. The tracker calls `on_fact` synchronously on its hot path, so that only
queues the fact; `run()` writes the queue in arrival order, one fact per transaction. A failed
write is retried with backoff when the database may come back (connection lost, lock timeout);
a fact the database refuses outright, or one still failing after the last attempt, is logged
with its call id and dropped, and the facts behind it are still written (the writes are
upserts, so a later fact of the same call fills in most of what a dropped one carried).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from crm import calls, lost_calls
from crm.database import Pool
from crm.errors import CrmError
from crm.models import CallDirection, CallOutcome, LegResult
from pbx_bridge import call_facts as cf

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_S = 0.5
DEFAULT_MAX_BACKLOG = 100_000

_DIRECTIONS: dict[cf.Direction, CallDirection] = {
    cf.Direction.INBOUND: "inbound", cf.Direction.OUTBOUND: "outbound", cf.Direction.INTERNAL: "internal"}
_OUTCOMES: dict[cf.Outcome, CallOutcome] = {cf.Outcome.ANSWERED: "answered", cf.Outcome.MISSED: "missed"}
#: Asterisk's DialStatus of a finished leg -> what the leg came to.
_LEG_RESULTS: dict[str, LegResult] = {
    "ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy", "CHANUNAVAIL": "unavailable",
    "CONGESTION": "failed", "INVALIDARGS": "failed", "DONTCALL": "rejected", "TORTURE": "rejected",
    "CANCEL": "cancelled", "CONTINUE": "rejected", "ABORT": "rejected",
}
#: Errors that say this write can never succeed: retrying would only hold up the facts behind it.
_PERMANENT = (CrmError, asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
#: Errors worth another try: the connection or the server may come back.
_TRANSIENT = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

CallInput = (calls.CallStart | calls.LegEvent | calls.CallEnd | calls.QueueEvent | calls.TransferEvent | calls.TalkTime
             | lost_calls.LiveCalls | lost_calls.LostCall)
Sleep = Callable[[float], Awaitable[None]]


def leg_result(dial_status: str, answered_elsewhere: bool) -> LegResult:
    """What a finished leg came to: a ring-all loser was answered elsewhere, not missed."""
    if answered_elsewhere:
        return "answered_elsewhere"
    return _LEG_RESULTS.get(dial_status.upper(), "failed")


def _moment(at: float | None, received_at: float) -> datetime:
    """The fact's own time; only a stream without event times falls back to when we received the fact."""
    return datetime.fromtimestamp(received_at if at is None else at, UTC)


def to_crm_input(fact: cf.CallFact, received_at: float) -> CallInput | None:
    """The CRM's record of a fact, or None for facts the call record does not keep (the legs say it)."""
    at = _moment(fact.at, received_at)
    match fact:
        case cf.CallStarted():
            return calls.CallStart(linkedid=fact.call_id, at=at, direction=_DIRECTIONS[fact.direction],
                                   caller=fact.caller, dialled=fact.dialled, click_to_call=fact.click_to_call,
                                   resynced=fact.resynced, caller_name=fact.caller_name)
        case cf.LegRinging():
            return calls.LegEvent(linkedid=fact.call_id, at=at, channel=fact.channel, extension=fact.extension,
                                  number=fact.number, state="ringing")
        case cf.LegAnswered():
            return calls.LegEvent(linkedid=fact.call_id, at=at, channel=fact.channel, extension=fact.extension,
                                  number=fact.number, state="answered", ring_s=fact.ring_s)
        case cf.LegEnded():
            return calls.LegEvent(linkedid=fact.call_id, at=at, channel=fact.channel, extension=fact.extension,
                                  number=fact.number, state="ended", ring_s=fact.ring_s,
                                  dial_status=fact.dial_status,
                                  result=leg_result(fact.dial_status, fact.answered_elsewhere))
        case cf.QueueJoined():
            return calls.QueueEvent(linkedid=fact.call_id, at=at, queue=fact.queue, joined_position=fact.position)
        case cf.QueueLeft():
            return calls.QueueEvent(linkedid=fact.call_id, at=at, queue=fact.queue, left_position=fact.position)
        case cf.AgentConnected():
            return calls.QueueEvent(linkedid=fact.call_id, at=at, queue=fact.queue, hold_s=fact.hold_s)
        case cf.QueueAbandoned():
            return calls.QueueEvent(linkedid=fact.call_id, at=at, queue=fact.queue, hold_s=fact.hold_s)
        case cf.Transferred():
            return calls.TransferEvent(linkedid=fact.call_id, at=at, kind=fact.kind.value,
                                       from_extension=fact.from_extension, to=fact.to, target=fact.target,
                                       result=fact.result.value, seq=fact.seq)
        case cf.CallEnded():
            return calls.CallEnd(
                linkedid=fact.call_id, at=at, direction=_DIRECTIONS[fact.direction],
                outcome=_OUTCOMES[fact.outcome], reason=fact.reason.value if fact.reason else "",
                answered_by=fact.answered_by, operator=fact.operator, customer_number=fact.customer_number,
                hung_up_by=fact.hung_up_by.value if fact.hung_up_by else None,
                hung_up_by_extension=fact.hung_up_by_extension, ring_s=fact.ring_s, talk_s=fact.talk_s,
                click_to_call=fact.click_to_call)
        case cf.PbxTalkTime():
            return calls.TalkTime(linkedid=fact.call_id, at=at, talk_s=fact.talk_s)
        case cf.LiveCallsResynced():
            return lost_calls.LiveCalls(linkedids=fact.live_call_ids, at=at)
        case cf.CallLost():
            return lost_calls.LostCall(linkedid=fact.call_id, at=at)
        case _:
            # AgentCalled / AgentRingNoAnswer: the queue members' legs already record them (one leg per
            # member and round, with its ring time and result).
            return None


@dataclass
class RecorderStats:
    written: int = 0
    retried: int = 0
    dropped: int = 0
    skipped: int = 0


class CallRecorder:
    """A `pbx_bridge.call_facts.CallFactSink` that keeps the CRM's call records.

    Create it in the composition root, hand it to the tracker (or a fan-out sink), run `run()`
    in the service's task group, and await `drain()` before shutdown so queued facts are written.
    """

    def __init__(self, pool: Pool, *, default_region: str = "RU", attempts: int = DEFAULT_ATTEMPTS,
                 backoff_s: float = DEFAULT_BACKOFF_S, max_backlog: int = DEFAULT_MAX_BACKLOG,
                 sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.time,
                 after_write: Callable[[cf.CallFact], None] | None = None) -> None:
        self._pool = pool
        #: Told of each fact once it is in the database (the live panel: pops read the record they announce).
        self._after_write = after_write
        self._default_region = default_region
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._max_backlog = max_backlog
        self._sleep = sleep
        self._clock = clock
        self._queue: asyncio.Queue[tuple[cf.CallFact, float]] = asyncio.Queue()
        self.stats = RecorderStats()

    @property
    def backlog(self) -> int:
        """Facts received and not yet written (or dropped)."""
        return self._queue.qsize()

    def on_fact(self, fact: cf.CallFact) -> None:
        """Queue a fact; never blocks, never touches the database (the tracker calls this inline)."""
        if self._queue.qsize() >= self._max_backlog:
            self.stats.dropped += 1
            log.error("call %s: call-record backlog full (%d facts), dropping %s",
                      fact.call_id, self._max_backlog, type(fact).__name__)
            return
        self._queue.put_nowait((fact, self._clock()))

    async def run(self) -> None:
        """Write queued facts in order, forever (cancel the task to stop; `drain()` first to finish the queue)."""
        while True:
            fact, received_at = await self._queue.get()
            try:
                await self._write_with_retry(fact, received_at)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every fact queued so far is written or dropped (tests, shutdown)."""
        await self._queue.join()

    join = drain

    async def write(self, fact: cf.CallFact, received_at: float | None = None) -> None:
        """Write one fact now, without queueing or retrying (errors propagate)."""
        data = to_crm_input(fact, self._clock() if received_at is None else received_at)
        if data is None:
            self.stats.skipped += 1
            log.debug("call %s: %s not kept in the call record", fact.call_id, type(fact).__name__)
            return
        pool, region = self._pool, self._default_region
        match data:
            case calls.CallStart():
                await calls.record_call_started(pool, data, default_region=region)
            case calls.LegEvent():
                await calls.record_leg(pool, data)
            case calls.CallEnd():
                await calls.record_call_ended(pool, data, default_region=region)
            case calls.QueueEvent():
                await calls.record_queue(pool, data)
            case calls.TransferEvent():
                await calls.record_transfer(pool, data)
            case calls.TalkTime():
                await calls.record_talk_time(pool, data)
            case lost_calls.LiveCalls():
                closed = await lost_calls.close_vanished_calls(pool, data.linkedids, data.at)
                if closed:
                    log.warning("closed %d calls Asterisk no longer has (their end was not seen): %s",
                                len(closed), ", ".join(closed[:20]))
            case lost_calls.LostCall():
                await lost_calls.close_lost_call(pool, data.linkedid, data.at)
        self.stats.written += 1
        if self._after_write is not None:
            try:
                self._after_write(fact)
            except Exception:  # the record is written; a live view's failure must not undo or retry it
                log.exception("call %s: after-write hook failed on %s", fact.call_id, type(fact).__name__)

    async def _write_with_retry(self, fact: cf.CallFact, received_at: float) -> None:
        name = type(fact).__name__
        for attempt in range(1, self._attempts + 1):
            try:
                await self.write(fact, received_at)
                return
            except _PERMANENT as exc:
                self.stats.dropped += 1
                log.error("call %s: %s refused by the database, dropped: %s", fact.call_id, name, exc)
                return
            except _TRANSIENT as exc:
                if attempt == self._attempts:
                    self.stats.dropped += 1
                    log.error("call %s: %s not written after %d attempts, dropped: %r",
                              fact.call_id, name, attempt, exc)
                    return
                delay = self._backoff_s * 2 ** (attempt - 1)
                self.stats.retried += 1
                log.warning("call %s: writing %s failed (%r); retry %d of %d in %.2f s",
                            fact.call_id, name, exc, attempt, self._attempts - 1, delay)
                await self._sleep(delay)
            except Exception:
                self.stats.dropped += 1
                log.exception("call %s: %s could not be written, dropped", fact.call_id, name)
                return

"""Call-fact sequences for the call-record tests, shaped like the tracker's replay of the real
Asterisk 22 captures in tests/fixtures/asterisk-22 (same channel names, order and gaps).

Built directly from `pbx_bridge.call_facts`, so these tests do not depend on the tracker's internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from crm.database import Pool
from pbx_bridge import call_facts as cf
from web.call_recorder import CallRecorder

T0 = 1795345255.368287
DID = "74951234501"
IN, OUT, INTERNAL = cf.Direction.INBOUND, cf.Direction.OUTBOUND, cf.Direction.INTERNAL


def _leg(kind: type[Any], lid: str, at: float, channel: str, **extra: Any) -> Any:
    ext = channel.split("/")[1].split("-")[0]
    trunk = ext == "trunk"
    number = extra.pop("number", None)
    return kind(call_id=lid, at=at, channel=channel, extension=None if trunk else ext,
                number=number if trunk else None, **extra)


def inbound_answered(lid: str = "1795345255.0", caller: str = "79161110001", t: float = T0, ext: str = "101",
                     hung_up_by: cf.HungUpBy = cf.HungUpBy.CUSTOMER) -> list[cf.CallFact]:
    """inbound_answered: 101 answers after 2 s, 3 s of talk, the customer hangs up."""
    ch = f"PJSIP/{ext}-00000001"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=IN, caller=caller, dialled=DID),
        _leg(cf.LegRinging, lid, t + 0.007, ch),
        _leg(cf.LegAnswered, lid, t + 2.011, ch, ring_s=2.0047),
        _leg(cf.LegEnded, lid, t + 5.022, ch, dial_status="ANSWER", ring_s=2.0047),
        cf.CallEnded(call_id=lid, at=t + 5.022, direction=IN, outcome=cf.Outcome.ANSWERED, reason=None,
                     answered_by=ext, operator=ext, customer_number=caller, hung_up_by=hung_up_by,
                     hung_up_by_extension=ext if hung_up_by is cf.HungUpBy.OPERATOR else None,
                     ring_s=2.011, talk_s=3.011),
    ]


def ringall_answered_by_102(lid: str = "1795345298.10", caller: str = "79161110006",
                            t: float = T0 + 43) -> list[cf.CallFact]:
    """inbound_ringall_two_operators: 101 and 102 ring, 102 answers, 101 was answered elsewhere."""
    a, b = "PJSIP/101-0000000b", "PJSIP/102-0000000c"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=IN, caller=caller, dialled="74951234506"),
        _leg(cf.LegRinging, lid, t + 0.006, a),
        _leg(cf.LegRinging, lid, t + 0.007, b),
        _leg(cf.LegAnswered, lid, t + 2.012, b, ring_s=2.005),
        _leg(cf.LegEnded, lid, t + 2.013, a, dial_status="CANCEL", ring_s=2.006, answered_elsewhere=True),
        _leg(cf.LegEnded, lid, t + 5.021, b, dial_status="ANSWER", ring_s=2.005),
        cf.CallEnded(call_id=lid, at=t + 5.021, direction=IN, outcome=cf.Outcome.ANSWERED, reason=None,
                     answered_by="102", operator="102", customer_number=caller, hung_up_by=cf.HungUpBy.CUSTOMER,
                     hung_up_by_extension=None, ring_s=2.012, talk_s=3.009),
    ]


def no_answer(lid: str = "1795345274.4", caller: str = "79161110003", t: float = T0 + 19) -> list[cf.CallFact]:
    """inbound_no_answer: 101 rings 8 s, nobody answers, Asterisk hangs up."""
    ch = "PJSIP/101-00000005"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=IN, caller=caller, dialled="74951234503"),
        _leg(cf.LegRinging, lid, t + 0.004, ch),
        _leg(cf.LegEnded, lid, t + 8.005, ch, dial_status="NOANSWER", ring_s=8.002),
        cf.CallEnded(call_id=lid, at=t + 8.006, direction=IN, outcome=cf.Outcome.MISSED,
                     reason=cf.MissedReason.NO_ANSWER, answered_by=None, operator=None, customer_number=caller,
                     hung_up_by=cf.HungUpBy.PBX, hung_up_by_extension=None, ring_s=8.006, talk_s=0.0),
    ]


def busy(lid: str = "1795345286.6", caller: str = "79161110004", t: float = T0 + 31) -> list[cf.CallFact]:
    """inbound_busy: the leg ends BUSY at once, without a ringing fact."""
    return [
        cf.CallStarted(call_id=lid, at=t, direction=IN, caller=caller, dialled="74951234504"),
        _leg(cf.LegEnded, lid, t + 0.004, "PJSIP/101-00000007", dial_status="BUSY", ring_s=0.0004),
        cf.CallEnded(call_id=lid, at=t + 0.005, direction=IN, outcome=cf.Outcome.MISSED, reason=cf.MissedReason.BUSY,
                     answered_by=None, operator=None, customer_number=caller, hung_up_by=cf.HungUpBy.PBX,
                     hung_up_by_extension=None, ring_s=0.005, talk_s=0.0),
    ]


def queue_abandoned(lid: str = "1795345330.19", caller: str = "79161110009", t: float = T0 + 75) -> list[cf.CallFact]:
    """queue_abandoned: the caller waits 4 s in 'sales' while 101 and 102 ring, then hangs up."""
    a, b = "PJSIP/101-00000014", "PJSIP/102-00000015"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=IN, caller=caller, dialled="74951234509"),
        cf.QueueJoined(call_id=lid, at=t + 0.004, queue="sales", position=1),
        cf.AgentCalled(call_id=lid, at=t + 0.005, queue="sales", extension="101", member_name="Operator 101"),
        cf.AgentCalled(call_id=lid, at=t + 0.006, queue="sales", extension="102", member_name="Operator 102"),
        _leg(cf.LegRinging, lid, t + 0.007, a),
        _leg(cf.LegRinging, lid, t + 0.0075, b),
        _leg(cf.LegEnded, lid, t + 4.013, a, dial_status="CANCEL", ring_s=4.007),
        cf.QueueAbandoned(call_id=lid, at=t + 4.0131, queue="sales", position=1, hold_s=4.0, timed_out=False),
        _leg(cf.LegEnded, lid, t + 4.0132, b, dial_status="CANCEL", ring_s=4.006),
        cf.CallEnded(call_id=lid, at=t + 4.014, direction=IN, outcome=cf.Outcome.MISSED,
                     reason=cf.MissedReason.ABANDONED, answered_by=None, operator=None, customer_number=caller,
                     hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=4.014, talk_s=0.0),
    ]


def outbound(lid: str = "1795345427.37", number: str = "79161110015", t: float = T0 + 172,
             ext: str = "101") -> list[cf.CallFact]:
    """outbound_from_operator: 101 dials a customer through the trunk; answered after 2 s."""
    ch = "PJSIP/trunk-00000024"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=OUT, caller=ext, dialled=number),
        _leg(cf.LegRinging, lid, t + 0.003, ch, number=number),
        _leg(cf.LegAnswered, lid, t + 2.012, ch, number=number, ring_s=2.009),
        _leg(cf.LegEnded, lid, t + 5.021, ch, number=number, dial_status="ANSWER", ring_s=2.009),
        cf.CallEnded(call_id=lid, at=t + 5.021, direction=OUT, outcome=cf.Outcome.ANSWERED, reason=None,
                     answered_by=number, operator=ext, customer_number=number, hung_up_by=cf.HungUpBy.OPERATOR,
                     hung_up_by_extension=ext, ring_s=2.012, talk_s=3.009),
    ]


def click_to_call(lid: str = "1795345391.33", number: str = "79161110013", t: float = T0 + 136) -> list[cf.CallFact]:
    """click_to_call_answered: 101's phone rings first, then the customer; the number comes from the trunk leg."""
    op, trunk = "PJSIP/101-0000001f", "PJSIP/trunk-00000020"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=OUT, caller="101", dialled=None, click_to_call=True),
        _leg(cf.LegRinging, lid, t + 0.002, op),
        _leg(cf.LegAnswered, lid, t + 2.008, op, ring_s=2.006),
        _leg(cf.LegRinging, lid, t + 2.010, trunk, number=number),
        _leg(cf.LegAnswered, lid, t + 5.017, trunk, number=number, ring_s=3.007),
        _leg(cf.LegEnded, lid, t + 10.012, trunk, number=number, dial_status="ANSWER", ring_s=3.007),
        _leg(cf.LegEnded, lid, t + 10.013, op, dial_status="ANSWER", ring_s=2.006),
        cf.CallEnded(call_id=lid, at=t + 10.013, direction=OUT, outcome=cf.Outcome.ANSWERED, reason=None,
                     answered_by=number, operator="101", customer_number=number, hung_up_by=cf.HungUpBy.OPERATOR,
                     hung_up_by_extension="101", ring_s=3.007, talk_s=4.996, click_to_call=True),
    ]


def internal(lid: str = "1795345500.50", t: float = T0 + 245) -> list[cf.CallFact]:
    """101 calls 102; 102 answers."""
    ch = "PJSIP/102-00000030"
    return [
        cf.CallStarted(call_id=lid, at=t, direction=INTERNAL, caller="101", dialled="102"),
        _leg(cf.LegRinging, lid, t + 0.003, ch),
        _leg(cf.LegAnswered, lid, t + 1.5, ch, ring_s=1.497),
        _leg(cf.LegEnded, lid, t + 4.0, ch, dial_status="ANSWER", ring_s=1.497),
        cf.CallEnded(call_id=lid, at=t + 4.0, direction=INTERNAL, outcome=cf.Outcome.ANSWERED, reason=None,
                     answered_by="102", operator="102", customer_number=None, hung_up_by=cf.HungUpBy.OPERATOR,
                     hung_up_by_extension="101", ring_s=1.5, talk_s=2.5),
    ]


def all_scenarios() -> list[cf.CallFact]:
    return [*inbound_answered(), *ringall_answered_by_102(), *no_answer(), *busy(), *queue_abandoned(),
            *click_to_call(), *outbound(), *internal()]


async def feed(recorder: CallRecorder, facts: Sequence[cf.CallFact]) -> None:
    for fact in facts:
        recorder.on_fact(fact)
    await recorder.drain()


class RunningRecorder:
    """A recorder with its worker running as a task, as the composition root runs it."""

    def __init__(self, pool: Pool, **options: Any) -> None:
        self.recorder = CallRecorder(pool, **options)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CallRecorder:
        self._task = asyncio.create_task(self.recorder.run())
        return self.recorder

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


async def record(pool: Pool, facts: Sequence[cf.CallFact], **options: Any) -> CallRecorder:
    """Write `facts` through a fresh recorder and wait until they are all written."""
    async with RunningRecorder(pool, **options) as recorder:
        await feed(recorder, facts)
    return recorder

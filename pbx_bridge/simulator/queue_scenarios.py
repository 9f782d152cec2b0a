"""Queue calls as Asterisk 22's ``Queue(sales,tr)`` plays them: answered, abandoned, timed out.

Shapes from the real captures: QueueCallerJoin, then per member Newchannel, AgentCalled, DialBegin
and its ringing; the answer gives DialEnd ANSWER, a CANCEL *twice* for every other member,
QueueCallerLeave then AgentConnect (RingTime and HoldTime in seconds). A caller who gives up gets
two rounds of DialEnd CANCEL and a QueueCallerAbandon. A queue timeout (no capture; shaped from the
fixtures README, its rounds and voicemail ending from the PBX tier's real Asterisk) gives, per member
and round, DialEnd NOANSWER + AgentRingNoAnswer (RingTime in milliseconds); after the last round
DialEnd CANCEL, a QueueCallerAbandon as well, QueueCallerLeave and ``VarSet QUEUESTATUS=TIMEOUT``,
then the dialplan's voicemail.
Queue() never sets DIALSTATUS.
"""

from __future__ import annotations

from pbx_bridge.simulator.channels import RINGING, UP, SimChannel
from pbx_bridge.simulator.route_step import play_fallback
from pbx_bridge.simulator.scenarios import CallParams, inbound_channel, operator_channel, start_dial
from pbx_bridge.simulator.script import CallScript, caller_id

_QUEUE_OPTIONS = "tr"


def _fields(p: CallParams, member: SimChannel) -> list[tuple[str, str]]:
    return [("Queue", p.queue), ("Interface", f"PJSIP/{member.endpoint}"), ("MemberName", member.caller_name)]


async def _join_and_ring(s: CallScript, p: CallParams) -> tuple[SimChannel, list[SimChannel], CallParams]:
    trunk, p = await inbound_channel(s, p, dial_targets=False)
    return trunk, _join(s, p, trunk), p


def _join(s: CallScript, p: CallParams, trunk: SimChannel) -> list[SimChannel]:
    """``Queue(NAME,tr,,,timeout)``: the caller joins, the first round of members is called."""
    trunk.priority = 16
    trunk.application, trunk.application_data = "Queue", f"{p.queue},{_QUEUE_OPTIONS},,,"
    s.queue_event("QueueCallerJoin", trunk, [("Queue", p.queue), ("Position", "1"), ("Count", "1")])
    return _ring_members(s, p, trunk)


def _ring_members(s: CallScript, p: CallParams, trunk: SimChannel) -> list[SimChannel]:
    """One round of the queue: every member is called (a fresh channel each round)."""
    members: list[SimChannel] = []
    pending: SimChannel | None = None
    for index, ext in enumerate(p.extensions):
        member = operator_channel(s, trunk, ext)
        member.connected_num, member.connected_name = trunk.caller_num, trunk.caller_name
        member.exten = trunk.exten
        s.queue_event("AgentCalled", trunk, _fields(p, member), member)
        if pending is not None:
            s.newstate(pending, RINGING)
            pending = None
        member.exten = "s"
        s.dial_begin(trunk, member, f"PJSIP/{ext}")
        member.exten = trunk.exten
        if p.late_ringing and index < len(p.extensions) - 1:
            pending = member
        else:
            s.newstate(member, RINGING)
        members.append(member)
    return members


def _cdrs(s: CallScript, p: CallParams, trunk: SimChannel) -> None:
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk), last_app="Queue", last_data=trunk.application_data)


async def queue_answered(s: CallScript, p: CallParams) -> None:
    """Members ring together; ``answering`` picks up after ``ring_s``; they talk ``talk_s``."""
    joined_at = s.t
    trunk, members, p = await _join_and_ring(s, p)
    await s.wait(p.ring_s)
    winner = next(m for m in members if m.endpoint == p.winner)
    losers = [m for m in members if m is not winner]
    s.newstate(winner, UP)
    s.dial_end(trunk, winner, "ANSWER")
    s.connect(trunk, winner)
    for loser in losers:
        s.dial_end(trunk, loser, "CANCEL")
        s.dial_end(trunk, loser, "CANCEL")
    s.queue_event("QueueCallerLeave", trunk, [("Queue", p.queue), ("Position", "1"), ("Count", "0")])
    hold_s = round(s.t - joined_at)
    s.queue_event("AgentConnect", trunk, [*_fields(p, winner), ("HoldTime", str(hold_s)),
                                          ("RingTime", str(round(p.ring_s)))], winner)
    for loser in losers:
        s.hangup(loser, 26)
    s.newstate(trunk, UP)
    bridge = s.bridge_create()
    s.bridge_enter(winner, bridge, 1)
    s.bridge_enter(trunk, bridge, 2)
    await s.wait(p.talk_s)
    complete = [*_fields(p, winner), ("HoldTime", str(hold_s)), ("TalkTime", str(round(p.talk_s)))]
    if p.operator_hangs_up:
        s.hangup_request(winner, 16)
        s.queue_event("AgentComplete", trunk, [*complete, ("Reason", "agent")], winner)
        s.bridge_leave(winner, bridge, 1)
        s.bridge_leave(trunk, bridge, 0)
        s.soft_hangup_request(trunk, 16)
        _cdrs(s, p, trunk)
        s.bridge_destroy(bridge)
        s.hangup(winner, 16)
        s.hangup(trunk, 16)
        return
    s.hangup_request(trunk, None)
    s.queue_event("AgentComplete", trunk, [*complete, ("Reason", "caller")], winner)
    s.bridge_leave(trunk, bridge, 1)
    s.soft_hangup_request(trunk, 16)
    _cdrs(s, p, trunk)
    s.bridge_leave(winner, bridge, 0)
    s.bridge_destroy(bridge)
    s.hangup(trunk, 16)
    s.hangup(winner, 16)


async def queue_abandoned(s: CallScript, p: CallParams) -> None:
    """The caller gives up (CANCEL) after ``ring_s`` in the queue while members ring."""
    joined_at = s.t
    trunk, members, p = await _join_and_ring(s, p)
    await s.wait(p.ring_s)
    _abandon(s, p, trunk, members, joined_at)


async def inbound_no_answer_then_queue_abandoned(s: CallScript, p: CallParams) -> None:
    """The router's choice rings ``first_ring_s`` unanswered (the routed Dial's timeout); the dialplan's
    fallback (``[perezvon-fallback]`` queue) rings the members; the caller gives up there after ``ring_s``."""
    trunk, p = await inbound_channel(s, p)
    (op,) = start_dial(s, trunk, p.extensions[:1], p.first_ring_s)
    await s.wait(p.first_ring_s)
    s.connect(trunk, op)
    s.dial_end(trunk, op, "NOANSWER")
    s.var_set(trunk, "DIALSTATUS", "NOANSWER")
    s.hangup(op, 0)
    trunk.context, trunk.exten = "perezvon-fallback", "queue"
    joined_at = s.t
    members = _join(s, p, trunk)
    await s.wait(p.ring_s)
    _abandon(s, p, trunk, members, joined_at)


def _abandon(s: CallScript, p: CallParams, trunk: SimChannel, members: list[SimChannel], joined_at: float) -> None:
    s.hangup_request(trunk, 127, 487)
    for member in members:
        s.dial_end(trunk, member, "CANCEL")
    for member in members:
        s.dial_end(trunk, member, "CANCEL")
    for member in members[:-1]:
        s.hangup(member, 0)
    s.queue_event("QueueCallerAbandon", trunk, [("Queue", p.queue), ("Position", "1"), ("OriginalPosition", "1"),
                                                ("HoldTime", str(round(s.t - joined_at)))])
    s.hangup(members[-1], 0)
    s.queue_event("QueueCallerLeave", trunk, [("Queue", p.queue), ("Position", "1"), ("Count", "0")])
    s.soft_hangup_request(trunk, 16, 487)
    _cdrs(s, p, trunk)
    s.hangup(trunk, 127, 487)


async def queue_timeout(s: CallScript, p: CallParams) -> None:
    """Nobody answers within the queue's timeout (``ring_s``): Queue() returns with QUEUESTATUS=TIMEOUT.

    As on the real Asterisk 22 with asterisk-conf/queues.conf: the members ring ``member_timeout_s``
    (its ``timeout``) per round, ``retry_s`` apart (its ``retry``), until the queue's own timeout cuts
    the last round short. Then ``[perezvon-fallback]`` sends the caller to VoiceMail(general,u),
    which answers; the customer hangs up after ``talk_s``.
    """
    joined_at = s.t
    trunk, members, p = await _join_and_ring(s, p)
    rang_at = s.t
    while joined_at + p.ring_s - s.t > p.member_timeout_s:
        await s.wait(p.member_timeout_s)
        for member in members:
            s.dial_end(trunk, member, "NOANSWER")
            s.queue_event("AgentRingNoAnswer", trunk, [*_fields(p, member),
                                                       ("RingTime", str(round(p.member_timeout_s * 1000)))], member)
            s.hangup(member, 0)
        members = []
        await s.wait(min(p.retry_s, max(joined_at + p.ring_s - s.t, 0.0)))
        # app_queue counts its timeout in whole seconds: a round starts only while one is left.
        if round(joined_at + p.ring_s - s.t) < 1:
            break
        members, rang_at = _ring_members(s, p, trunk), s.t
    await s.wait(max(joined_at + p.ring_s - s.t, 0.0))
    for member in members:
        s.dial_end(trunk, member, "NOANSWER")
        s.queue_event("AgentRingNoAnswer", trunk, [*_fields(p, member),
                                                   ("RingTime", str(round((s.t - rang_at) * 1000)))], member)
    for member in members:
        s.dial_end(trunk, member, "CANCEL")
        s.hangup(member, 0)
    s.queue_event("QueueCallerAbandon", trunk, [("Queue", p.queue), ("Position", "1"), ("OriginalPosition", "1"),
                                                ("HoldTime", str(round(s.t - joined_at)))])
    s.queue_event("QueueCallerLeave", trunk, [("Queue", p.queue), ("Position", "1"), ("Count", "0")])
    s.var_set(trunk, "QUEUESTATUS", "TIMEOUT")
    trunk.priority = 18
    await play_fallback(s, trunk, p, "voicemail", "")

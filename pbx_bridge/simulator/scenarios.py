"""Calls as Asterisk 22 plays them: direct-dial inbound, ring-all, failover, outbound, click-to-call.

Each scenario is an async function of a :class:`~pbx_bridge.simulator.script.CallScript` and
:class:`CallParams`. The order of events inside each one is the order recorded from a real Asterisk
22.10 (``tests/fixtures/asterisk-22``), including its quirks: a DIALSTATUS ``VarSet`` comes before
an answering ``DialEnd`` but after a failed one, a busy phone never rings, the ring-all loser is hung
up with cause 26, the customer's CANCEL shows as ``HangupRequest`` 127/487, and Asterisk's own
hang-ups show only as ``SoftHangupRequest``. Queue scenarios live in :mod:`.queue_scenarios`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pbx_bridge.simulator.channels import DOWN, RING, RINGING, UP, SimChannel
from pbx_bridge.simulator.route_step import route_inbound
from pbx_bridge.simulator.script import CallScript, caller_id

#: The shop's number shown to customers on outbound calls (the trunk's From user).
SHOP_CALLER_ID = "74951234500"
_DIAL_TIMEOUT_S = 20


@dataclass(frozen=True, slots=True)
class CallParams:
    """What a scenario needs to know; every duration is simulated seconds."""

    #: The customer's number: who calls (inbound) or who is called (outbound, click-to-call).
    customer: str
    #: Operator extensions, in the order they are tried (failover) or rung together (ring-all, queue).
    extensions: tuple[str, ...] = ("101",)
    #: The shop number the customer dialled (inbound).
    did: str = "74951234501"
    #: Until the phone that answers picks up; no answer: the Dial timeout; abandoned: until the customer gives up.
    ring_s: float = 2.0
    talk_s: float = 3.0
    #: Failover: how long each earlier operator rings before Dial gives up on them.
    first_ring_s: float = 4.0
    #: Click-to-call: how long the operator's own phone rings before they pick up.
    operator_ring_s: float = 2.0
    #: Ring-all and queue: the extension that answers ("" = the last one).
    answering: str = ""
    #: The name the router puts on the caller ID (``CALLERID(name)``) or Originate's CallerID name.
    display_name: str = ""
    queue: str = "sales"
    #: Answered calls: the operator hangs up rather than the customer.
    operator_hangs_up: bool = False
    #: Queue: a member's 180 Ringing arrives only after the next member is called (both orders happen).
    late_ringing: bool = False
    #: Click-to-call: the Originate action's ActionID, echoed in OriginateResponse.
    action_id: str = ""
    #: Click-to-call: the Originate's ChannelId, the operator channel's Uniqueid (and so the call's Linkedid).
    channel_id: str = ""
    #: Queue timeout: how long each round rings the members, and the pause between rounds
    #: (asterisk-conf/queues.conf's ``timeout`` and ``retry``).
    member_timeout_s: float = 15.0
    retry_s: float = 2.0
    #: Transfer and pickup: the operator who takes the call over, and (transfer) how long the first one
    #: talks before transferring.
    colleague: str = "102"
    transfer_after_s: float = 1.0

    @property
    def winner(self) -> str:
        return self.answering or self.extensions[-1]

    @property
    def name(self) -> str:
        return self.display_name or self.customer


# --- building blocks shared by inbound scenarios ---------------------------------------------


async def inbound_channel(s: CallScript, p: CallParams, *, dial_targets: bool = True) -> tuple[SimChannel, CallParams]:
    """The trunk channel arrives, the FastAGI router names the caller (NewCallerid).

    With a router configured (``s.core.agi``) it is asked over FastAGI and the returned parameters
    ring its targets (``dial_targets``) and show its caller name; otherwise ``p`` is played as given.
    A router that names no targets and a voicemail/playback/hangup fallback ends the call here
    (:class:`~pbx_bridge.simulator.route_step.FallbackEndedCall`).
    """
    trunk = s.new_channel("trunk", linked_to=None, state=RING, caller_num=p.customer, caller_name=p.customer,
                          context="from-trunk", exten=p.did)
    if s.core.agi is not None:
        return trunk, await route_inbound(s, trunk, p, dial_targets=dial_targets)
    s.skip(0.002)
    trunk.priority = 3
    s.new_callerid(trunk, p.customer, p.name)
    return trunk, p


def operator_channel(s: CallScript, linked_to: SimChannel, extension: str) -> SimChannel:
    return s.new_channel(extension, linked_to=linked_to, state=DOWN, caller_num=extension,
                         caller_name=f"Operator {extension}", context="from-internal", exten="s")


def start_dial(s: CallScript, trunk: SimChannel, extensions: tuple[str, ...], timeout_s: float,
               priority: int = 8) -> list[SimChannel]:
    """``Dial(PJSIP/a&PJSIP/b,timeout,t)``: DIALSTATUS cleared, all channels created, then each is called."""
    trunk.priority = priority
    trunk.application = "Dial"
    trunk.application_data = f"{'&'.join(f'PJSIP/{e}' for e in extensions)},{round(timeout_s)},t"
    s.var_set(trunk, "DIALSTATUS", "")
    operators = [operator_channel(s, trunk, ext) for ext in extensions]
    for op in operators:
        op.exten = trunk.exten
        s.dial_begin(trunk, op, op.endpoint)
        s.newstate(op, RINGING)
    return operators


def answer(s: CallScript, trunk: SimChannel, winner: SimChannel, losers: list[SimChannel]) -> str:
    """The operator picks up: losers are cancelled (cause 26), the two channels are bridged."""
    s.newstate(winner, UP)
    s.connect(trunk, winner)
    for loser in losers:
        s.dial_end(trunk, loser, "CANCEL")
    s.var_set(trunk, "DIALSTATUS", "ANSWER")
    winner.exten = ""
    s.dial_end(trunk, winner, "ANSWER")
    s.newstate(trunk, UP)
    for loser in losers:
        s.hangup(loser, 26)
    bridge = s.bridge_create()
    s.bridge_enter(winner, bridge, 1)
    s.bridge_enter(trunk, bridge, 2)
    return bridge


def end_answered_inbound(s: CallScript, p: CallParams, trunk: SimChannel, op: SimChannel, bridge: str) -> None:
    cdr = {"destination": p.did, "caller_id": caller_id(trunk), "last_app": "Dial",
           "last_data": trunk.application_data}
    if p.operator_hangs_up:
        s.hangup_request(op, 16)
        s.bridge_leave(op, bridge, 1)
        s.bridge_leave(trunk, bridge, 0)
        s.var_set(trunk, "DIALSTATUS", "ANSWER")
        s.soft_hangup_request(trunk, 16)
        s.cdrs(trunk, **cdr)
        s.bridge_destroy(bridge)
        s.hangup(op, 16)
        s.hangup(trunk, 16)
        return
    s.hangup_request(trunk, 16)
    s.bridge_leave(trunk, bridge, 1)
    s.var_set(trunk, "DIALSTATUS", "ANSWER")
    s.soft_hangup_request(trunk, 16)
    s.cdrs(trunk, **cdr)
    s.bridge_leave(op, bridge, 0)
    s.bridge_destroy(bridge)
    s.hangup(trunk, 16)
    s.hangup(op, 16)


# --- inbound scenarios ------------------------------------------------------------------------


async def inbound_answered(s: CallScript, p: CallParams) -> None:
    """Customer calls, the first extension rings ``ring_s`` and answers, they talk ``talk_s``."""
    trunk, p = await inbound_channel(s, p)
    (op,) = start_dial(s, trunk, p.extensions[:1], _DIAL_TIMEOUT_S)
    await s.wait(p.ring_s)
    bridge = answer(s, trunk, op, [])
    await s.wait(p.talk_s)
    end_answered_inbound(s, p, trunk, op, bridge)


async def inbound_answered_operator_hangs_up(s: CallScript, p: CallParams) -> None:
    trunk, p = await inbound_channel(s, p)
    (op,) = start_dial(s, trunk, p.extensions[:1], _DIAL_TIMEOUT_S)
    await s.wait(p.ring_s)
    bridge = answer(s, trunk, op, [])
    await s.wait(p.talk_s)
    end_answered_inbound(s, replace(p, operator_hangs_up=True), trunk, op, bridge)


async def inbound_no_answer(s: CallScript, p: CallParams) -> None:
    """Nobody picks up: Dial gives up after ``ring_s`` (NOANSWER), dialplan hangs the caller up."""
    trunk, p = await inbound_channel(s, p)
    (op,) = start_dial(s, trunk, p.extensions[:1], p.ring_s)
    await s.wait(p.ring_s)
    s.connect(trunk, op)
    s.dial_end(trunk, op, "NOANSWER")
    s.var_set(trunk, "DIALSTATUS", "NOANSWER")
    trunk.priority = 13
    s.soft_hangup_request(trunk, 16)
    s.hangup(op, 0)
    s.hangup(trunk, 16)
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk), last_app="Dial", last_data=trunk.application_data)


async def inbound_busy(s: CallScript, p: CallParams) -> None:
    """The operator's phone answers 486 Busy Here at once: no ringing, cause 17 on both sides."""
    trunk, p = await inbound_channel(s, p)
    trunk.priority = 8
    trunk.application, trunk.application_data = "Dial", f"PJSIP/{p.extensions[0]},{_DIAL_TIMEOUT_S},t"
    s.var_set(trunk, "DIALSTATUS", "")
    op = operator_channel(s, trunk, p.extensions[0])
    op.exten = trunk.exten
    s.dial_begin(trunk, op, op.endpoint)
    last_data = trunk.application_data
    s.hangup_request(op, 17, 486)
    s.connect(trunk, op)
    s.dial_end(trunk, op, "BUSY")
    s.var_set(trunk, "DIALSTATUS", "BUSY")
    s.hangup(op, 17, 486)
    trunk.priority = 13
    s.soft_hangup_request(trunk, 16)
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk), last_app="Dial", last_data=last_data)
    s.hangup(trunk, 17, 486)


async def inbound_abandoned_while_ringing(s: CallScript, p: CallParams) -> None:
    """The customer hangs up (CANCEL) after ``ring_s`` while the operator's phone still rings."""
    trunk, p = await inbound_channel(s, p)
    (op,) = start_dial(s, trunk, p.extensions[:1], _DIAL_TIMEOUT_S)
    await s.wait(p.ring_s)
    s.connect(trunk, op)
    s.hangup_request(trunk, 127, 487)
    s.dial_end(trunk, op, "CANCEL")
    s.var_set(trunk, "DIALSTATUS", "CANCEL")
    s.soft_hangup_request(trunk, 16, 487)
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk), last_app="Dial", last_data=trunk.application_data)
    s.hangup(trunk, 127, 487)
    s.hangup(op, 127, 500)


async def inbound_ringall(s: CallScript, p: CallParams) -> None:
    """All extensions ring at once; ``answering`` picks up after ``ring_s``, the others are cancelled."""
    trunk, p = await inbound_channel(s, p)
    operators = start_dial(s, trunk, p.extensions, _DIAL_TIMEOUT_S)
    await s.wait(p.ring_s)
    winner = next(op for op in operators if op.endpoint == p.winner)
    bridge = answer(s, trunk, winner, [op for op in operators if op is not winner])
    await s.wait(p.talk_s)
    end_answered_inbound(s, p, trunk, winner, bridge)


async def inbound_failover(s: CallScript, p: CallParams) -> None:
    """Each extension but the last rings ``first_ring_s`` unanswered; the last answers after ``ring_s``."""
    trunk, p = await inbound_channel(s, p)
    priority = 8
    for ext in p.extensions[:-1]:
        (op,) = start_dial(s, trunk, (ext,), p.first_ring_s, priority)
        await s.wait(p.first_ring_s)
        s.connect(trunk, op)
        s.dial_end(trunk, op, "NOANSWER")
        s.var_set(trunk, "DIALSTATUS", "NOANSWER")
        priority += 11
        trunk.priority = priority
        s.var_set(trunk, "DIALSTATUS", "")
        s.hangup(op, 0)
    trunk.application_data = f"PJSIP/{p.extensions[-1]},{_DIAL_TIMEOUT_S},t"
    last = operator_channel(s, trunk, p.extensions[-1])
    last.exten = trunk.exten
    s.dial_begin(trunk, last, last.endpoint)
    s.newstate(last, RINGING)
    await s.wait(p.ring_s)
    bridge = answer(s, trunk, last, [])
    await s.wait(p.talk_s)
    end_answered_inbound(s, p, trunk, last, bridge)


# --- calls the shop places --------------------------------------------------------------------


def trunk_leg(s: CallScript, op: SimChannel, customer: str, caller_name: str) -> SimChannel:
    """Dial(PJSIP/<customer>@trunk): the customer's channel, named by the trunk endpoint."""
    leg = s.new_channel("trunk", linked_to=op, state=DOWN, caller_num="", caller_name="", context="from-trunk",
                        exten="s")
    leg.exten, leg.connected_num, leg.connected_name = customer, op.caller_num, op.caller_name
    s.new_callerid(leg, customer, caller_name)
    op.application, op.application_data = "Dial", f"PJSIP/{customer}@trunk,15,T"
    s.dial_begin(op, leg, f"{customer}@trunk")
    s.newstate(leg, RINGING)
    return leg


async def talk_and_end_outbound(s: CallScript, p: CallParams, op: SimChannel, leg: SimChannel,
                                *, click_to_call: bool, op_answered_at: float | None = None) -> None:
    s.var_set(op, "DIALSTATUS", "ANSWER")
    leg.exten = ""
    s.dial_end(op, leg, "ANSWER")
    if op_answered_at is not None:
        # The Cdr's party A is the originated operator channel: its answer starts the billable time.
        s.cdr_legs[-1].answered_at = op_answered_at
    if not click_to_call:
        s.newstate(op, UP)
    bridge = s.bridge_create()
    s.bridge_enter(leg, bridge, 1)
    s.bridge_enter(op, bridge, 2)
    await s.wait(p.talk_s)
    cdr = {"destination": p.customer, "caller_id": caller_id(op), "last_app": "Dial",
           "last_data": op.application_data}
    first, second = (op, leg) if p.operator_hangs_up else (leg, op)
    s.hangup_request(first, 16)
    s.bridge_leave(first, bridge, 1)
    if not click_to_call:
        s.bridge_leave(second, bridge, 0)
    s.var_set(op, "DIALSTATUS", "ANSWER")
    s.soft_hangup_request(op, 16)
    if click_to_call:
        s.bridge_leave(second, bridge, 0)
    s.bridge_destroy(bridge)
    s.hangup(leg, 16)
    s.cdrs(op, **cdr)
    s.hangup(op, 16)


async def outbound_from_operator(s: CallScript, p: CallParams) -> None:
    """The operator dials the customer from their phone; the customer answers after ``ring_s``."""
    op = s.new_channel(p.extensions[0], linked_to=None, state=RING, caller_num=p.extensions[0],
                       caller_name=f"Operator {p.extensions[0]}", context="from-internal", exten=p.customer)
    op.priority = 3
    s.var_set(op, "DIALSTATUS", "")
    s.skip(0.002)
    leg = trunk_leg(s, op, p.customer, "")
    await s.wait(p.ring_s)
    s.newstate(leg, UP)
    s.connect(op, leg)
    await talk_and_end_outbound(s, p, op, leg, click_to_call=False)


async def _originate_to_customer(s: CallScript, p: CallParams) -> tuple[SimChannel, SimChannel, float]:
    """An Originate's first half: the operator's phone rings, they pick up, the customer's trunk leg is dialled.

    Returns the operator's channel, the customer's (still ringing) and when the operator answered.
    """
    ext = p.extensions[0]
    op = s.new_channel(ext, linked_to=None, state=DOWN, caller_num=ext, caller_name=f"Operator {ext}",
                       context="from-internal", exten="s", uniqueid=p.channel_id or None)
    s.new_callerid(op, p.customer, p.name)
    op.connected_num, op.connected_name = p.customer, p.name
    s.dial_begin(None, op, ext)
    s.newstate(op, RINGING)
    await s.wait(p.operator_ring_s)
    s.newstate(op, UP)
    op_answered_at = s.t
    s.dial_end(None, op, "ANSWER")
    op.exten, op.priority = p.customer, 3
    s.originate_response(p.action_id, op, exten=p.customer)
    s.var_set(op, "DIALSTATUS", "")
    return op, trunk_leg(s, op, p.customer, p.name), op_answered_at


async def click_to_call(s: CallScript, p: CallParams) -> None:
    """AMI Originate: the operator's phone rings first (``operator_ring_s``), then the customer (``ring_s``)."""
    op, leg, op_answered_at = await _originate_to_customer(s, p)
    await s.wait(p.ring_s)
    s.newstate(leg, UP)
    await talk_and_end_outbound(s, p, op, leg, click_to_call=True, op_answered_at=op_answered_at)


async def click_to_call_no_answer(s: CallScript, p: CallParams) -> None:
    """Click-to-call the customer does not take: the operator picks up, the trunk answers 480 after ``ring_s``.

    Dial gives NOANSWER (the customer's leg ends with cause 19/480), and ``[perezvon-originate]``'s
    Hangup() ends the operator's channel.
    """
    op, leg, _ = await _originate_to_customer(s, p)
    await s.wait(p.ring_s)
    s.hangup_request(leg, 19, 480)
    s.connect(op, leg)
    s.dial_end(op, leg, "NOANSWER")
    s.var_set(op, "DIALSTATUS", "NOANSWER")
    s.hangup(leg, 19, 480)
    op.priority = 5
    s.soft_hangup_request(op, 16)
    s.cdrs(op, destination=p.customer, caller_id=caller_id(op), last_app="Dial", last_data=op.application_data)
    s.hangup(op, 16)

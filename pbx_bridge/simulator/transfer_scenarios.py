"""A colleague takes the call: a blind transfer, and a call pickup, as the real Asterisk 22 plays them.

The orders are the ones recorded in the PBX tier (tests/fixtures/asterisk-22-perezvon:
``transfer_blind_ami``, ``pickup_group``), including their quirks: after ``BlindTransfer`` the customer's
own channel dials the target from ``from-internal``; a pickup's ``DialEnd ANSWER`` names the picker's
channel, a call of its own until it is bridged, and the picked-up phone's channel hangs up (cause 16).
The colleague is ``CallParams.colleague``; when the router sent the call to that very operator, the
scenario's own first extension takes the colleague's part.
"""

from __future__ import annotations

from pbx_bridge.simulator.channels import RING, UP
from pbx_bridge.simulator.scenarios import (
    CallParams,
    answer,
    end_answered_inbound,
    inbound_channel,
    start_dial,
)
from pbx_bridge.simulator.script import CallScript

_DIAL_TIMEOUT_S = 20
#: extensions.conf's INTERNAL_RING_TIMEOUT: a transfer target rings this long at most.
_INTERNAL_RING_TIMEOUT_S = 30
#: How long the transfer target rings before answering.
TRANSFER_RING_S = 0.5


def _colleague(before: CallParams, routed: CallParams) -> str:
    colleague = before.colleague
    return before.extensions[0] if colleague == routed.extensions[0] else colleague


async def inbound_blind_transfer(s: CallScript, p: CallParams) -> None:
    """The first extension answers after ``ring_s``, talks ``transfer_after_s`` and transfers the customer
    (blind) to the colleague, who answers ``TRANSFER_RING_S`` later; ``talk_s`` from the first answer."""
    trunk, routed = await inbound_channel(s, p)
    first, colleague = routed.extensions[0], _colleague(p, routed)
    (op,) = start_dial(s, trunk, (first,), _DIAL_TIMEOUT_S)
    await s.wait(routed.ring_s)
    bridge = answer(s, trunk, op, [])
    await s.wait(routed.transfer_after_s)
    s.emit("BlindTransfer", "call", [("Result", "Success"), *op.block("Transferer"), *trunk.block("Transferee"),
                                     ("BridgeUniqueid", bridge), ("IsExternal", "Yes"), ("Context", "from-internal"),
                                     ("Extension", colleague)])
    s.bridge_leave(op, bridge, 1)
    trunk.context, trunk.exten = "from-internal", colleague
    s.bridge_leave(trunk, bridge, 0)
    s.hangup(op, 16)
    s.bridge_destroy(bridge)
    (target,) = start_dial(s, trunk, (colleague,), _INTERNAL_RING_TIMEOUT_S, priority=2)
    await s.wait(TRANSFER_RING_S)
    bridge = answer(s, trunk, target, [])
    await s.wait(max(0.0, routed.talk_s - routed.transfer_after_s - TRANSFER_RING_S))
    end_answered_inbound(s, routed, trunk, target, bridge)


async def inbound_pickup(s: CallScript, p: CallParams) -> None:
    """The first extension rings ``ring_s``; the colleague dials ``*8`` and takes the call; they talk ``talk_s``."""
    trunk, routed = await inbound_channel(s, p)
    first, colleague = routed.extensions[0], _colleague(p, routed)
    (op,) = start_dial(s, trunk, (first,), _DIAL_TIMEOUT_S)
    await s.wait(routed.ring_s)
    picker = s.new_channel(colleague, linked_to=None, state=RING, caller_num=colleague,
                           caller_name=f"Operator {colleague}", context="from-internal", exten="*8")
    s.newstate(picker, UP)
    s.var_set(trunk, "DIALSTATUS", "ANSWER")
    s.dial_end(trunk, picker, "ANSWER")
    s.newstate(trunk, UP)
    s.emit("Pickup", "call", [*picker.block(), *op.block("Target")])
    bridge = s.bridge_create()
    s.bridge_enter(picker, bridge, 1)
    s.bridge_enter(trunk, bridge, 2)
    s.hangup(op, 16)
    picker.linkedid = trunk.linkedid  # Asterisk moves a bridged channel to the older call's Linkedid
    await s.wait(routed.talk_s)
    end_answered_inbound(s, routed, trunk, picker, bridge)

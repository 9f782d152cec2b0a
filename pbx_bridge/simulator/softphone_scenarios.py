"""A call answered by an operator's web softphone, as the real Asterisk 22 plays it over AudioSocket.

The order is the one recorded in the PBX tier (tests/fixtures/asterisk-22-perezvon/softphone_audiosocket):
``Dial(AudioSocket/<server>/<uuid>/c(slin))`` makes an ``AudioSocket/<server>-<uuid>`` channel that
chan_audiosocket answers the moment it connects (no ringing, ring time 0); the softphone's HANGUP frame
ends it with no HangupRequest of its own (its channel just leaves the bridge and hangs up, cause 16),
then Asterisk hangs the customer up. The UUID names the extension (pbx_bridge/audiosocket/legs.py).
"""

from __future__ import annotations

from pbx_bridge.audiosocket import legs
from pbx_bridge.simulator.channels import DOWN, UNKNOWN, UP
from pbx_bridge.simulator.scenarios import CallParams, inbound_channel
from pbx_bridge.simulator.script import CallScript, caller_id

#: Where the simulated softphone server listens (the dial string's host:port).
SOFTPHONE_SERVER = "127.0.0.1:9092"
_DIAL_TIMEOUT_S = 20


async def inbound_softphone_answered(s: CallScript, p: CallParams) -> None:
    """The first extension's softphone takes the call at once; they talk ``talk_s``; the softphone hangs up."""
    trunk, p = await inbound_channel(s, p)
    target = legs.dial_string(SOFTPHONE_SERVER, p.extensions[0])
    leg_uuid = target.split("/")[2]
    trunk.priority, trunk.application = 8, "Dial"
    trunk.application_data = f"{target},{_DIAL_TIMEOUT_S},t"
    s.var_set(trunk, "DIALSTATUS", "")
    softphone = s.new_channel("", linked_to=trunk, state=DOWN, caller_num=UNKNOWN, caller_name=UNKNOWN,
                              context="default", exten="s", name=f"AudioSocket/{SOFTPHONE_SERVER}-{leg_uuid}")
    s.var_set(softphone, "AUDIOSOCKET_UUID", leg_uuid)
    s.dial_begin(trunk, softphone, target.split("/", 1)[1])
    s.newstate(softphone, UP)
    s.connect(trunk, softphone)
    s.var_set(trunk, "DIALSTATUS", "ANSWER")
    s.dial_end(trunk, softphone, "ANSWER")
    s.newstate(trunk, UP)
    bridge = s.bridge_create()
    s.bridge_enter(softphone, bridge, 1)
    s.bridge_enter(trunk, bridge, 2)
    await s.wait(p.talk_s)
    s.bridge_leave(softphone, bridge, 1)
    s.hangup(softphone, 16)
    s.bridge_leave(trunk, bridge, 0)
    s.bridge_destroy(bridge)
    s.var_set(trunk, "DIALSTATUS", "ANSWER")
    s.soft_hangup_request(trunk, 16)
    s.hangup(trunk, 16)
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk), last_app="Dial", last_data=trunk.application_data)

"""The scenarios by name, and how one is played against the simulated core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Final

from pbx_bridge.simulator import queue_scenarios as q
from pbx_bridge.simulator import scenarios as s
from pbx_bridge.simulator import softphone_scenarios as sp
from pbx_bridge.simulator import transfer_scenarios as t
from pbx_bridge.simulator.channels import PbxCore
from pbx_bridge.simulator.route_step import FallbackEndedCall
from pbx_bridge.simulator.scenarios import CallParams
from pbx_bridge.simulator.script import CallScript

Scenario = Callable[[CallScript, CallParams], Awaitable[None]]

SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType({
    "inbound_answered": s.inbound_answered,
    "inbound_answered_operator_hangs_up": s.inbound_answered_operator_hangs_up,
    "inbound_no_answer": s.inbound_no_answer,
    "inbound_busy": s.inbound_busy,
    "inbound_abandoned_while_ringing": s.inbound_abandoned_while_ringing,
    "inbound_ringall": s.inbound_ringall,
    "inbound_failover": s.inbound_failover,
    "queue_answered": q.queue_answered,
    "queue_abandoned": q.queue_abandoned,
    "inbound_no_answer_then_queue_abandoned": q.inbound_no_answer_then_queue_abandoned,
    "queue_timeout": q.queue_timeout,
    "click_to_call": s.click_to_call,
    "click_to_call_no_answer": s.click_to_call_no_answer,
    "outbound_from_operator": s.outbound_from_operator,
    "inbound_blind_transfer": t.inbound_blind_transfer,
    "inbound_pickup": t.inbound_pickup,
    "inbound_softphone_answered": sp.inbound_softphone_answered,
})


async def play(core: PbxCore, scenario: str, params: CallParams, start: float | None = None) -> None:
    """Play one call to its end; its events go to the core's subscribers as they happen."""
    try:
        script_fn = SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}") from None
    try:
        await script_fn(CallScript(core, start), params)
    except FallbackEndedCall:
        pass  # the router chose no operator: the fallback (voicemail, playback, hangup) played the call's end

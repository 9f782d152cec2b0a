"""The dialplan's routing step for simulated inbound calls: ``AGI(agi://.../route,...)`` and what follows.

With a router configured (:attr:`PbxCore.agi`), the trunk channel asks it over real FastAGI, then
plays what Asterisk shows for the answer: one ``VarSet`` per ``SET VARIABLE`` (a ``NewCallerid``
for ``CALLERID(name)``), then ``VarSet AGISTATUS``. The call rings the extensions of
``ROUTE_TARGETS``; with no targets (the router chose a queue) or an unreachable router
(``AGISTATUS=FAILURE``, the dialplan's fallback) it rings the scenario's own extensions. Queue
scenarios keep their queue members: the queue is the fallback path, the caller name still applies.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pbx_bridge.agi_contract import VAR_CALLER_NAME, VAR_TARGETS
from pbx_bridge.simulator.agi_client import AgiCall, ask_router
from pbx_bridge.simulator.channels import SimChannel
from pbx_bridge.simulator.script import CallScript

if TYPE_CHECKING:  # scenarios imports this module
    from pbx_bridge.simulator.scenarios import CallParams

AGISTATUS = "AGISTATUS"


def target_extensions(targets: str) -> tuple[str, ...]:
    """``PJSIP/101&PJSIP/102`` -> ``("101", "102")``; anything but a plain PJSIP endpoint is skipped."""
    out: list[str] = []
    for target in targets.split("&"):
        tech, _, name = target.strip().partition("/")
        if tech == "PJSIP" and name and "/" not in name and name not in out:
            out.append(name)
    return tuple(out)


async def route_inbound(s: CallScript, trunk: SimChannel, p: CallParams, *, dial_targets: bool) -> CallParams:
    """Ask the router for ``trunk``'s call; the call's parameters as the dialplan will play them."""
    assert s.core.agi is not None
    trunk.priority = 3
    variables = await ask_router(s.core.agi, AgiCall(channel=trunk.name, uniqueid=trunk.uniqueid,
                                                      linkedid=trunk.linkedid, caller=p.customer,
                                                      caller_name=trunk.caller_name, did=p.did))
    if variables is None:
        s.var_set(trunk, AGISTATUS, "FAILURE")
        return replace(p, display_name="")
    display = ""
    extensions = p.extensions
    for name, value in variables:
        if name == VAR_CALLER_NAME:
            display = value
            s.new_callerid(trunk, p.customer, value)
        else:
            s.var_set(trunk, name, value)
            if name == VAR_TARGETS and dial_targets:
                extensions = target_extensions(value) or p.extensions
    s.var_set(trunk, AGISTATUS, "SUCCESS")
    answering = p.answering if p.answering in extensions else ""
    return replace(p, extensions=extensions, display_name=display, answering=answering)

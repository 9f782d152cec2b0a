"""The dialplan's routing step for simulated inbound calls: ``AGI(agi://.../route,...)`` and what follows.

With a router configured (:attr:`PbxCore.agi`), the trunk channel asks it over real FastAGI, then
plays what Asterisk shows for the answer: one ``VarSet`` per ``SET VARIABLE`` (a ``NewCallerid``
for ``CALLERID(name)``), then ``VarSet AGISTATUS``. The call rings the extensions of
``ROUTE_TARGETS``. With no targets the call follows ``ROUTE_FALLBACK`` like ``[perezvon-fallback]``:

* ``queue:NAME`` (and an empty or unknown kind: the default queue) rings the scenario's own
  extensions, as the queue's members would (a direct-dial scenario keeps its Dial shape; a queue
  scenario joins queue NAME);
* ``voicemail:BOX``, ``playback:SOUND``, ``hangup`` and, simplified, ``dial:NUMBER`` (treated like
  voicemail: no duty leg is simulated) are played by :func:`play_fallback`: the PBX answers the
  trunk, no operator rings, the customer hangs up a few seconds later. (Asterisk's ``hangup`` would
  hang up unanswered and ``playback`` hangs up itself; the simulator keeps one shape for all.)
  :class:`FallbackEndedCall` then stops the scenario (caught by ``catalog.play``).

An unreachable router (``AGISTATUS=FAILURE``) sends the call to the default queue in the dialplan:
the scenario's own extensions ring. Queue scenarios keep their queue members, the caller name applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from pbx_bridge.agi_contract import VAR_CALLER_NAME, VAR_FALLBACK, VAR_TARGETS
from pbx_bridge.simulator.agi_client import AgiCall, ask_router
from pbx_bridge.simulator.channels import UP, SimChannel
from pbx_bridge.simulator.script import CallScript, CdrLeg, caller_id

if TYPE_CHECKING:  # scenarios imports this module
    from pbx_bridge.simulator.scenarios import CallParams

AGISTATUS = "AGISTATUS"
#: Fallback kinds that ring no operator, and the application the dialplan ends in (``dial``: simplified).
_NOT_QUEUE: Mapping[str, str] = MappingProxyType(
    {"voicemail": "VoiceMail", "dial": "VoiceMail", "playback": "Playback", "hangup": "Hangup"})
#: extensions.conf's ``GENERAL_MAILBOX``: an empty mailbox, and an unanswered duty number, end there.
_GENERAL_MAILBOX = "general"


class FallbackEndedCall(Exception):
    """The dialplan's fallback took the call (voicemail, playback, hangup): the scenario has nothing left to play."""


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
    display, targets, fallback = "", "", ""
    for name, value in variables:
        if name == VAR_CALLER_NAME:
            display = value
            s.new_callerid(trunk, p.customer, value)
        else:
            s.var_set(trunk, name, value)
            targets = value if name == VAR_TARGETS else targets
            fallback = value if name == VAR_FALLBACK else fallback
    s.var_set(trunk, AGISTATUS, "SUCCESS")
    kind, _, target = fallback.partition(":")
    if not targets.strip() and kind in _NOT_QUEUE:
        await play_fallback(s, trunk, p, kind, target)
        raise FallbackEndedCall(fallback)
    extensions = (target_extensions(targets) or p.extensions) if dial_targets else p.extensions
    queue = target if kind == "queue" and target and not targets.strip() else p.queue
    answering = p.answering if p.answering in extensions else ""
    return replace(p, extensions=extensions, display_name=display, answering=answering, queue=queue)


async def play_fallback(s: CallScript, trunk: SimChannel, p: CallParams, kind: str, target: str) -> None:
    """``VoiceMail(BOX,u)`` / ``Playback(SOUND)``: the PBX answers, the customer hangs up after ``talk_s``."""
    application = _NOT_QUEUE[kind]
    if application == "VoiceMail":
        data = f"{target if kind == 'voicemail' and target else _GENERAL_MAILBOX},u"
    else:
        data = target
    trunk.context, trunk.exten, trunk.priority = "perezvon-fallback", application.lower(), 2
    trunk.application, trunk.application_data = application, data
    s.newstate(trunk, UP)
    # No Dial: Asterisk's Cdr for the call has no destination channel and counts the answer as billable.
    s.cdr_legs.append(CdrLeg(dest=None, start=trunk.created_at, answered_at=s.t, disposition="ANSWERED"))
    await s.wait(p.talk_s)
    s.hangup_request(trunk, 16)
    s.cdrs(trunk, destination=p.did, caller_id=caller_id(trunk),
           last_app=application, last_data=trunk.application_data)
    s.hangup(trunk, 16)

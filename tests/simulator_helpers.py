"""Helpers for the simulator tests: play a scenario to bytes, and the comparison with real captures.

The comparison view keeps the events the bridge uses (plus DIALSTATUS/QUEUESTATUS ``VarSet``) and
names every channel by its role (its endpoint: ``trunk``, ``101``...), so two calls with different
ids compare equal when Asterisk would have produced the same story.

The one normalisation, for what the fixtures README says real Asterisk does not order stably:
``Hangup`` and ``Cdr`` events are taken out of the sequence and compared as multisets; for Hangup we
check instead that it is the last event of its channel in its own stream.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from pbx_bridge.ami_frames import Frame, FrameParser
from pbx_bridge.simulator.catalog import play
from pbx_bridge.simulator.channels import PbxCore
from pbx_bridge.simulator.clock import FastClock
from pbx_bridge.simulator.scenarios import CallParams
from tests.tracker_helpers import ASTERISK22

USED_EVENTS = frozenset({
    "Newchannel", "Newstate", "NewCallerid", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "Hangup",
    "HangupRequest", "SoftHangupRequest", "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave",
    "AgentCalled", "AgentConnect", "AgentRingNoAnswer", "AgentComplete", "VarSet", "OriginateResponse",
    "BlindTransfer", "AttendedTransfer", "Cdr",
})
_VARIABLES = frozenset({"DIALSTATUS", "QUEUESTATUS"})
CHANNEL_NAME = re.compile(r"PJSIP/(trunk|\d{2,6})-[0-9a-f]{8}")
UNIQUEID = re.compile(r"(\d{10})\.(\d+)")
#: Headers compared on every event (besides the event name and the channels' roles).
_KEYS = ("ChannelState", "Context", "DestChannelState", "DestContext", "DialStatus", "Cause", "TechCause",
         "Variable", "Value", "Queue", "Position", "Count", "Interface", "MemberName", "Reason", "Response")

Headers = dict[str, str]


def frames_of(data: bytes) -> list[Headers]:
    parser = FrameParser()
    items = parser.feed(data)
    assert parser.stats.problems == 0 and parser.buffered == 0
    return [item.first_values() for item in items if isinstance(item, Frame)]


def capture_frames(name: str) -> list[Headers]:
    return frames_of((ASTERISK22 / f"{name}.ami").read_bytes())


async def simulate(scenario: str, params: CallParams, start: float = 1795345255.3) -> bytes:
    """Play one scenario on a fresh core with a fast clock; the wire bytes of all its events."""
    core = PbxCore(FastClock(start))
    out: list[bytes] = []
    core.subscribe(lambda frame: out.append(bytes(frame)))
    await play(core, scenario, params)
    assert not core.live_channels(), "every channel must be hung up at the end"
    return b"".join(out)


def used(frames: list[Headers]) -> list[Headers]:
    return [h for h in frames if h.get("Event") in USED_EVENTS
            and (h["Event"] != "VarSet" or h.get("Variable") in _VARIABLES)]


def role(channel: str | None) -> str | None:
    if not channel:
        return None
    match = CHANNEL_NAME.fullmatch(channel)
    assert match is not None, channel
    return match.group(1)


def signature(h: Headers) -> tuple[Any, ...]:
    return (h["Event"], role(h.get("Channel")), role(h.get("DestChannel")),
            *(f"{key}={h[key]}" for key in _KEYS if key in h))


def sequence(frames: list[Headers]) -> list[tuple[Any, ...]]:
    """The compared sequence: used events without Hangup and Cdr."""
    return [signature(h) for h in used(frames) if h["Event"] not in ("Hangup", "Cdr")]


def hangups(frames: list[Headers]) -> Counter[tuple[Any, ...]]:
    return Counter(signature(h) for h in used(frames) if h["Event"] == "Hangup")


def cdr_rows(frames: list[Headers]) -> Counter[tuple[Any, ...]]:
    return Counter((role(h["Channel"]), role(h["DestinationChannel"]), h["Disposition"], h["Source"],
                    h["Destination"], h["LastApplication"], h["BillableSeconds"], h["Duration"])
                   for h in used(frames) if h["Event"] == "Cdr")


def hangup_is_last_of_its_channel(frames: list[Headers]) -> bool:
    seen_hangup: set[str] = set()
    for h in used(frames):
        for key in ("Channel", "DestChannel"):
            if h.get(key) in seen_hangup and h["Event"] != "Cdr":
                return False
        if h["Event"] == "Hangup":
            seen_hangup.add(h["Channel"])
    return True


def id_relations(frames: list[Headers]) -> set[tuple[str, str, str]]:
    """(role, role of the channel whose Uniqueid is its Linkedid, how its Uniqueid epoch relates)."""
    by_uniqueid: dict[str, str] = {}
    out: set[tuple[str, str, str]] = set()
    for h in used(frames):
        for prefix in ("", "Dest"):
            name, uniqueid = h.get(f"{prefix}Channel"), h.get(f"{prefix}Uniqueid")
            if not name or uniqueid is None:
                continue
            assert UNIQUEID.fullmatch(uniqueid), uniqueid
            channel_role = role(name)
            assert channel_role is not None
            if h["Event"] == "Newchannel":
                by_uniqueid[uniqueid] = channel_role
                # The Uniqueid's epoch is the second the channel was created in.
                assert uniqueid.split(".")[0] == str(int(float(h["Timestamp"]))), h
            linkedid = h.get(f"{prefix}Linkedid")
            if linkedid is not None:
                out.add((channel_role, by_uniqueid.get(linkedid, "?"), "linked"))
    return out


def sidecar(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ASTERISK22 / f"{name}.json").read_text(encoding="utf-8"))
    return data


def display_name(truth: dict[str, Any]) -> str:
    """The name the router (or the Originate action) put on the caller ID in that capture."""
    for answer in truth.get("router_answer") or []:
        match = re.fullmatch(r'SET VARIABLE CALLERID\(name\) "(.*)"', answer["command"])
        if match:
            return match.group(1)
    for action in truth["ami"]["actions_sent_by_driver"]:
        match = re.fullmatch(r'"(.*)" <.*>', action.get("CallerID", ""))
        if match:
            return match.group(1)
    return ""

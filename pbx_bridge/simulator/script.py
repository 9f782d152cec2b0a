"""The verbs a simulated call is written in, each emitting the AMI event Asterisk 22 emits for it.

A scenario (:mod:`pbx_bridge.simulator.scenarios`) reads like what happens on the PBX: a channel
is created, dials another, the phone rings, answers, both enter a bridge, someone hangs up. This
module turns each verb into the event's exact header layout as recorded from Asterisk 22.10
(``Event``, ``Privilege``, ``Timestamp``, then the channel block(s) and the event's own headers).

Time: a script has its own cursor. Every event moves it on by a few hundred microseconds (Asterisk's
events of one moment are that far apart); :meth:`CallScript.wait` moves it by the scenario's ring
or talk time and waits for the clock, so Timestamps advance by exactly the simulated durations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pbx_bridge.ami_frames import Frame
from pbx_bridge.simulator.channels import CAUSE_TEXT, UNKNOWN, PbxCore, SimChannel

_CALL = "call,all"
_DIALPLAN = "dialplan,all"
_AGENT = "agent,all"
_CDR = "cdr,all"


@dataclass(slots=True)
class CdrLeg:
    """One caller/destination pair: Asterisk writes one Cdr row for each when the call ends.

    ``dest`` is None for a call the dialplan answered itself (voicemail, playback): no channel was dialled.
    """

    dest: SimChannel | None
    start: float
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: str = "NO ANSWER"


def caller_id(channel: SimChannel) -> str:
    """The Cdr's CallerID: ``"name" <number>``."""
    return f'"{channel.caller_name}" <{channel.caller_num}>'


def _cdr_time(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


class CallScript:
    """One call's event writer: holds the call's time cursor and its Cdr legs."""

    def __init__(self, core: PbxCore, start: float | None = None) -> None:
        self.core = core
        self.t = core.clock.now() if start is None else start
        self.cdr_legs: list[CdrLeg] = []

    # --- time --------------------------------------------------------------------------------

    def _tick(self) -> float:
        self.t += self.core.rng.uniform(0.00004, 0.0009)
        return self.t

    def skip(self, seconds: float) -> None:
        """Asterisk's own processing time (an AGI round trip): moves the cursor, waits for nobody."""
        self.t += max(0.0, seconds)

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (ringing, talking)."""
        self.t += max(0.0, seconds)
        await self.core.clock.sleep_until(self.t)

    def emit(self, event: str, privilege: str, headers: list[tuple[str, str]]) -> Frame:
        at = self._tick()
        frame = Frame.from_pairs([("Event", event), ("Privilege", privilege), ("Timestamp", f"{at:.6f}"),
                                  *headers])
        self.core.publish(frame)
        return frame

    # --- channels ----------------------------------------------------------------------------

    def new_channel(self, endpoint: str, *, linked_to: SimChannel | None, state: int, caller_num: str,
                    caller_name: str, context: str, exten: str, uniqueid: str | None = None,
                    name: str | None = None) -> SimChannel:
        at = self._tick()
        channel = self.core.new_channel(
            endpoint, at=at, linkedid=linked_to.linkedid if linked_to else None, state=state,
            caller_num=caller_num, caller_name=caller_name, context=context, exten=exten, uniqueid=uniqueid,
            name=name,
        )
        self.emit("Newchannel", _CALL, channel.block())
        return channel

    def new_callerid(self, channel: SimChannel, num: str, name: str) -> None:
        channel.caller_num, channel.caller_name = num, name
        self.emit("NewCallerid", _CALL, [*channel.block(),
                                         ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def newstate(self, channel: SimChannel, state: int) -> None:
        channel.state = state
        self.emit("Newstate", _CALL, channel.block())

    def var_set(self, channel: SimChannel, variable: str, value: str) -> None:
        self.emit("VarSet", _DIALPLAN, [*channel.block(), ("Variable", variable), ("Value", value)])

    # --- dialling ----------------------------------------------------------------------------

    def dial_begin(self, caller: SimChannel | None, dest: SimChannel, dial_string: str) -> None:
        """``caller`` is None for an originated call's first leg: Asterisk sends only the Dest block."""
        dest.application, dest.application_data = "AppDial", "(Outgoing Line)"
        if caller is not None:
            dest.connected_num, dest.connected_name = caller.caller_num, caller.caller_name
        head = caller.block() if caller is not None else []
        self.emit("DialBegin", _CALL, [*head, *dest.block("Dest"), ("DialString", dial_string)])
        if caller is not None:
            # A Dial after an earlier one ended (failover) gets a new Cdr that starts now.
            forked = any(leg.ended_at is not None for leg in self.cdr_legs)
            self.cdr_legs.append(CdrLeg(dest=dest, start=self.t if forked else caller.created_at))

    def dial_end(self, caller: SimChannel | None, dest: SimChannel, status: str) -> None:
        head = caller.block() if caller is not None else []
        self.emit("DialEnd", _CALL, [*head, *dest.block("Dest"), ("DialStatus", status)])
        for leg in self.cdr_legs:
            if leg.dest is dest and leg.ended_at is None and leg.answered_at is None:
                if status == "ANSWER":
                    leg.answered_at, leg.disposition = self.t, "ANSWERED"
                else:
                    leg.ended_at = self.t
                    leg.disposition = "BUSY" if status == "BUSY" else "NO ANSWER"

    def connect(self, caller: SimChannel, dest: SimChannel) -> None:
        """Connected-line update when a dialled phone answers (no event of its own in the filtered view)."""
        caller.connected_num, caller.connected_name = dest.caller_num, dest.caller_name

    # --- bridges -----------------------------------------------------------------------------

    def bridge_create(self) -> str:
        bridge_id = self.core.new_bridge_id()
        self.emit("BridgeCreate", _CALL, self._bridge_block(bridge_id, 0))
        return bridge_id

    def bridge_destroy(self, bridge_id: str) -> None:
        self.emit("BridgeDestroy", _CALL, self._bridge_block(bridge_id, 0))

    def bridge_enter(self, channel: SimChannel, bridge_id: str, count: int) -> None:
        channel.bridge_id = bridge_id
        self.emit("BridgeEnter", _CALL, [*self._bridge_block(bridge_id, count), *channel.block()])

    def bridge_leave(self, channel: SimChannel, bridge_id: str, count: int) -> None:
        channel.bridge_id = ""
        self.emit("BridgeLeave", _CALL, [*self._bridge_block(bridge_id, count), *channel.block()])

    @staticmethod
    def _bridge_block(bridge_id: str, count: int) -> list[tuple[str, str]]:
        return [("BridgeUniqueid", bridge_id), ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"),
                ("BridgeCreator", UNKNOWN), ("BridgeName", UNKNOWN), ("BridgeNumChannels", str(count)),
                ("BridgeVideoSourceMode", "none")]

    # --- hanging up --------------------------------------------------------------------------

    @staticmethod
    def _causes(cause: int | None, tech_cause: int | None) -> list[tuple[str, str]]:
        out = [] if cause is None else [("Cause", str(cause))]
        return out + ([] if tech_cause is None else [("TechCause", str(tech_cause))])

    def hangup_request(self, channel: SimChannel, cause: int | None, tech_cause: int | None = None) -> None:
        """The device on ``channel`` hung up (BYE, CANCEL, 486): this side is the one who hung up."""
        self.emit("HangupRequest", _CALL, [*channel.block(), *self._causes(cause, tech_cause)])

    def soft_hangup_request(self, channel: SimChannel, cause: int, tech_cause: int | None = None) -> None:
        """Asterisk hangs ``channel`` up itself (its peer left, or dialplan ``Hangup()``)."""
        self.emit("SoftHangupRequest", _CALL, [*channel.block(), *self._causes(cause, tech_cause)])

    def hangup(self, channel: SimChannel, cause: int, tech_cause: int | None = None) -> None:
        extra = [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
        if tech_cause is not None:
            extra.append(("TechCause", str(tech_cause)))
        self.emit("Hangup", _CALL, [*channel.block(), *extra])
        self.core.channel_gone(channel)
        for leg in self.cdr_legs:
            if leg.dest is channel and leg.ended_at is None:
                leg.ended_at = self.t

    def cdrs(self, source: SimChannel, *, destination: str, caller_id: str, last_app: str, last_data: str) -> None:
        """One Cdr row per destination dialled (``unanswered=no`` still writes the rung-but-lost ones)."""
        end_at = self.t
        for leg in self.cdr_legs:
            leg_end = end_at if leg.answered_at is not None or leg.ended_at is None else leg.ended_at
            billable = 0 if leg.answered_at is None else round(end_at - leg.answered_at)
            self.emit("Cdr", _CDR, [
                ("AccountCode", ""), ("Source", source.caller_num if source.caller_num != UNKNOWN else ""),
                ("Destination", destination), ("DestinationContext", source.context), ("CallerID", caller_id),
                ("Channel", source.name), ("DestinationChannel", leg.dest.name if leg.dest else ""),
                ("LastApplication", last_app),
                ("LastData", last_data), ("StartTime", _cdr_time(leg.start)),
                ("AnswerTime", _cdr_time(leg.answered_at)), ("EndTime", _cdr_time(leg_end)),
                ("Duration", str(round(leg_end - leg.start))), ("BillableSeconds", str(billable)),
                ("Disposition", leg.disposition), ("AMAFlags", "DOCUMENTATION"), ("UniqueID", source.uniqueid),
                ("UserField", ""),
            ])
        self.cdr_legs = []

    # --- queues ------------------------------------------------------------------------------

    def queue_event(self, event: str, caller: SimChannel, fields: list[tuple[str, str]],
                    member: SimChannel | None = None) -> None:
        """QueueCallerJoin/Leave/Abandon and Agent* events: the caller's block, the member's, then fields."""
        dest = member.block("Dest") if member is not None else []
        self.emit(event, _AGENT, [*caller.block(), *dest, *fields])

    # --- originate ---------------------------------------------------------------------------

    def originate_response(self, action_id: str, channel: SimChannel, *, exten: str, response: str = "Success",
                           reason: int = 4) -> None:
        head = [("ActionID", action_id)] if action_id else []
        self.emit("OriginateResponse", _CALL, [
            *head, ("Response", response), ("Channel", channel.name), ("Context", channel.context),
            ("Exten", exten), ("Reason", str(reason)), ("Uniqueid", channel.uniqueid),
            ("CallerIDNum", channel.caller_num), ("CallerIDName", channel.caller_name),
        ])

"""The simulated Asterisk core: channel identities, live channels, and where events go.

Asterisk names a channel ``<tech>/<endpoint>-<8 hex digits>`` from one process-wide counter and
gives it a Uniqueid ``<epoch second of creation>.<counter>`` from another; every channel of a call
carries the first channel's Uniqueid as its ``Linkedid``. A channel created seconds into a call
(the second operator of a failover, the customer leg of a click-to-call) therefore has a Uniqueid
whose epoch part is later than its Linkedid's. :class:`PbxCore` keeps both counters, the channels
alive right now (for ``CoreShowChannels``) and the subscribers that receive every event frame.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pbx_bridge.ami_frames import Frame
from pbx_bridge.simulator.agi_client import AgiTarget
from pbx_bridge.simulator.clock import SimClock

logger = logging.getLogger(__name__)

#: Asterisk's ``ChannelStateDesc`` for the states calls go through.
STATE_DESC: dict[int, str] = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
DOWN, RING, RINGING, UP = 0, 4, 5, 6

#: Asterisk's text for the Q.850 causes the scenarios use (``Cause-txt``).
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown", 3: "No route to destination", 16: "Normal Clearing", 17: "User busy",
    19: "No user responding", 21: "Call Rejected", 26: "Answered elsewhere", 127: "Interworking, unspecified",
}

UNKNOWN = "<unknown>"

EventSink = Callable[[Frame], None]


@dataclass(slots=True)
class SimChannel:
    """One live channel: the block Asterisk repeats in every channel event, plus CoreShowChannel's extras."""

    name: str
    uniqueid: str
    linkedid: str
    state: int
    caller_num: str
    caller_name: str
    context: str
    exten: str
    created_at: float
    priority: int = 1
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""

    @property
    def endpoint(self) -> str:
        """``PJSIP/trunk-0000000a`` -> ``trunk``."""
        return self.name.split("/", 1)[-1].rsplit("-", 1)[0]

    def block(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot headers, in Asterisk's order, optionally prefixed (``Dest``)."""
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.caller_num or UNKNOWN),
            (f"{prefix}CallerIDName", self.caller_name or UNKNOWN),
            (f"{prefix}ConnectedLineNum", self.connected_num or UNKNOWN),
            (f"{prefix}ConnectedLineName", self.connected_name or UNKNOWN),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


class PbxCore:
    """State shared by every simulated call: the clock, the id counters, live channels, subscribers."""

    def __init__(self, clock: SimClock, rng: random.Random | None = None, *, first_counter: int = 0,
                 agi: AgiTarget | None = None) -> None:
        self.clock = clock
        self.rng = rng or random.Random()
        #: The FastAGI router inbound calls ask, as the dialplan does; None: scenarios route themselves.
        self.agi = agi
        self._uniqueid_counter = first_counter
        self._name_counter = first_counter
        self._channels: dict[str, SimChannel] = {}
        self._sinks: list[EventSink] = []

    # --- identities --------------------------------------------------------------------------

    def new_channel(self, endpoint: str, *, at: float, linkedid: str | None, state: int, caller_num: str,
                    caller_name: str, context: str, exten: str, uniqueid: str | None = None,
                    name: str | None = None) -> SimChannel:
        """Allocate a channel's name and Uniqueid as Asterisk does, and register it as live.

        `uniqueid`: the one an Originate's ChannelId asked for (Asterisk uses it as given). `name`: a
        channel driver's own (``AudioSocket/<server>-<uuid>``) instead of ``PJSIP/<endpoint>-<counter>``.
        """
        uniqueid = uniqueid or f"{int(at)}.{self._uniqueid_counter}"
        name = name or f"PJSIP/{endpoint}-{self._name_counter:08x}"
        self._uniqueid_counter += 1
        self._name_counter += 1
        channel = SimChannel(name=name, uniqueid=uniqueid, linkedid=linkedid or uniqueid, state=state,
                             caller_num=caller_num, caller_name=caller_name, context=context, exten=exten,
                             created_at=at)
        self._channels[uniqueid] = channel
        return channel

    def new_bridge_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def channel_gone(self, channel: SimChannel) -> None:
        self._channels.pop(channel.uniqueid, None)

    def live_channels(self) -> list[SimChannel]:
        """Channels alive now, oldest first (the order ``CoreShowChannels`` lists them in)."""
        return sorted(self._channels.values(), key=lambda c: c.created_at)

    # --- event fan-out -----------------------------------------------------------------------

    def subscribe(self, sink: EventSink) -> Callable[[], None]:
        """Receive every event frame from now on; returns the function that unsubscribes."""
        self._sinks.append(sink)

        def unsubscribe() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)

        return unsubscribe

    def publish(self, frame: Frame) -> None:
        for sink in list(self._sinks):
            try:
                sink(frame)
            except Exception:
                logger.exception("simulator event subscriber failed; it is dropped")
                self._sinks.remove(sink)

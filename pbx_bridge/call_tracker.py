"""The call tracker: typed AMI events in, call facts out. Pure: no I/O, no clock.

Modelled on cacofonisk's event handler: an explicit table maps each event class to a handler; the
handlers keep channel, leg and call state (:mod:`pbx_bridge.tracker_state`); the outcome rules live
in :mod:`pbx_bridge.call_outcome`. One call per ``Linkedid``: ring-all, hunt groups and queues give
one call with several legs. Time comes only from the events' ``Timestamp`` (the last one seen stands
in for events without it), so replaying a capture always yields the same facts.

Events for channels never seen (normal right after connecting mid-call) are counted and logged,
never fatal. ``FullyBooted`` (a fresh login or a PBX restart) drops all state; a
``CoreShowChannels`` resync then seeds the live channels so calls in progress still end correctly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar, cast

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge import dial_targets
from pbx_bridge.tracker_core import TrackerCore, TrackerStats
from pbx_bridge.tracker_state import CallState, LegState, TrackerSettings

logger = logging.getLogger(__name__)

_E = TypeVar("_E", bound=ev.AmiEvent)
_Handler = Callable[[ev.AmiEvent, "float | None"], None]

#: Hangup cause of a dialled channel to a dial status, for a leg that ended without a DialEnd.
_CAUSE_STATUS: Mapping[int, str] = MappingProxyType({17: "BUSY", 21: "BUSY", 18: "NOANSWER", 19: "NOANSWER",
                                    3: "CHANUNAVAIL", 20: "CHANUNAVAIL", 27: "CHANUNAVAIL"})


#: CoreShowChannel ``Application`` of a channel that was dialled (a leg), by Dial or by a queue.
_DIALLED_APPS = frozenset({"AppDial", "AppQueue"})
#: chan_audiosocket's channels: the web softphone's legs.
_AUDIOSOCKET = "AudioSocket/"

__all__ = ["CallTracker", "TrackerSettings", "TrackerStats"]


class CallTracker(TrackerCore):
    """Feed it typed events with :meth:`feed`; it returns (and hands to ``sink``) the facts each produced."""

    def __init__(self, settings: TrackerSettings | None = None, sink: cf.CallFactSink | None = None) -> None:
        super().__init__(settings, sink)
        self._table: dict[type[ev.AmiEvent], _Handler] = dict([
            _bind(ev.FullyBooted, self._on_fully_booted),
            _bind(ev.Newchannel, self._on_newchannel),
            _bind(ev.Newstate, self._on_newstate),
            _bind(ev.NewCallerid, self._on_new_callerid),
            _bind(ev.Newexten, self._on_dial_app),
            _bind(ev.DialBegin, self._on_dial_begin),
            _bind(ev.DialEnd, self._on_dial_end),
            _bind(ev.BridgeEnter, self._on_bridge_enter),
            _bind(ev.BridgeLeave, self._on_bridge_leave),
            _bind(ev.HangupRequest, self._on_hangup_request),
            _bind(ev.SoftHangupRequest, self._on_soft_hangup_request),
            _bind(ev.Hangup, self._on_hangup),
            _bind(ev.VarSet, self._on_var_set),
            _bind(ev.QueueCallerJoin, self._on_queue_join),
            _bind(ev.QueueCallerLeave, self._on_queue_leave),
            _bind(ev.QueueCallerAbandon, self._on_queue_abandon),
            _bind(ev.AgentCalled, self._on_agent_called),
            _bind(ev.AgentConnect, self._on_agent_connect),
            _bind(ev.AgentRingNoAnswer, self._on_agent_ring_no_answer),
            _bind(ev.BlindTransfer, self._on_blind_transfer),
            _bind(ev.AttendedTransfer, self._on_attended_transfer),
            _bind(ev.Pickup, self._on_pickup),
            _bind(ev.CoreShowChannel, self._on_core_show_channel),
            _bind(ev.CoreShowChannelsComplete, self._on_core_show_complete),
            _bind(ev.Cdr, self._on_cdr),
        ])

    # --- public API ----------------------------------------------------------------------------

    def feed(self, event: ev.AmiEvent) -> list[cf.CallFact]:
        """Apply one event; return the facts it produced, in order (also handed to the sink)."""
        self.stats.events += 1
        if event.timestamp is not None:
            self._now = event.timestamp
        handler = self._table.get(type(event))
        if handler is None:
            self.stats.ignored_events += 1
            return []
        self._out = []
        handler(event, self._now)
        self._drop_stale_calls()
        facts, self._out = self._out, []
        if self._sink is not None:
            for fact in facts:
                self._sink.on_fact(fact)
        return facts

    def feed_all(self, events: Iterable[ev.AmiEvent]) -> list[cf.CallFact]:
        facts: list[cf.CallFact] = []
        for event in events:
            facts.extend(self.feed(event))
        return facts

    @property
    def event_names(self) -> frozenset[str]:
        """The AMI event names this tracker acts on (its event classes are named after them): what a
        reader may subscribe to, as every other event is only counted as ignored."""
        return frozenset(kind.__name__ for kind in self._table)

    @property
    def live_call_ids(self) -> list[str]:
        return list(self._calls)

    @property
    def live_channel_count(self) -> int:
        return len(self._channels)

    # --- handlers ------------------------------------------------------------------------------

    def _on_fully_booted(self, event: ev.FullyBooted, now: float | None) -> None:
        if self._calls:
            logger.info("FullyBooted: dropping %d calls in progress until resync", len(self._calls))
        self.stats.resets += 1
        self.stats.calls_dropped_on_reset += len(self._calls)
        self._calls.clear()
        self._channels.clear()
        self._resync_calls.clear()

    def _on_newchannel(self, event: ev.Newchannel, now: float | None) -> None:
        info = event.channel
        if info.uniqueid in self._channels:
            return
        call_id = info.linkedid or info.uniqueid
        call = self._calls.get(call_id)
        if call is None:
            call = self._new_call(call_id, info, self._classifier.classify(info.name), now)
        self._add_channel(call, info, now)
        self._try_start(call, force=False)

    def _on_newstate(self, event: ev.Newstate, now: float | None) -> None:
        found = self._lookup("Newstate", event.channel)
        if found is None:
            return
        channel, call = found
        channel.state = event.channel.state
        self._note_state(call, channel)
        if channel.state == "Ringing":
            channel.ringing = True
            leg = call.legs.get(channel.uniqueid)
            if leg is not None and not leg.answered:
                self._report_ringing(call, leg, now)

    def _on_new_callerid(self, event: ev.NewCallerid, now: float | None) -> None:
        found = self._lookup("NewCallerid", event.channel)
        if found is not None:
            found[0].caller_num = event.channel.caller_num

    def _on_dial_app(self, event: ev.Newexten, now: float | None) -> None:
        found = self._lookup("Newexten", event.channel)
        if found is None:
            return
        channel, call = found
        if event.app_data == channel.dial_data:
            # The same Dial named again: after a BlindTransfer the transferee's first step at its new place
            # still carries the old Dial's data. Nothing new was asked, so no target may be taken as one that
            # got no channel (it would add a phantom "unavailable" leg of the first operator).
            return
        channel.dial_data = event.app_data
        call.dial_targets = dict.fromkeys(dial_targets.parse(event.app_data), now)

    def _on_dial_begin(self, event: ev.DialBegin, now: float | None) -> None:
        call = self._call_of(event.dest, event.caller)
        if call is None:
            self._unknown("DialBegin", event.dest.uniqueid)
            return
        if event.caller is None and not call.legs:
            # An originated call: Asterisk dials the first channel itself (click-to-call).
            call.click_to_call = True
        channel = self._channels.get(event.dest.uniqueid) or self._add_channel(call, event.dest, now)
        if not channel.party.real or channel.uniqueid in call.legs:
            return
        leg = LegState(
            uniqueid=channel.uniqueid, channel=channel.name, party=channel.party,
            number=_external_number(event) if channel.party.extension is None else None, began_at=now,
            originate_leg=call.click_to_call and not call.legs,
        )
        call.legs[leg.uniqueid] = leg
        self._try_start(call, force=False)
        if channel.ringing:
            self._report_ringing(call, leg, now)

    def _on_dial_end(self, event: ev.DialEnd, now: float | None) -> None:
        # The caller's call first: after a pickup the Dial ends ANSWER on the picker's channel, which is
        # still filed under the picker's own call (the Pickup event that moves it comes next).
        call = self._call_of(event.caller, event.dest)
        if call is None:
            self._unknown("DialEnd", event.dest.uniqueid)
            return
        status = event.dial_status.upper()
        call.dial_statuses.append((status, now))
        leg = call.legs.get(event.dest.uniqueid)
        if leg is None or leg.dial_status is not None:
            # Not a real device (a Local hop), or the second DialEnd Asterisk sends for queue legs.
            return
        if status == "ANSWER":
            self._leg_answered(call, leg, now)
        else:
            leg.dial_status = status
            leg.ended_at = now
            if status != "CANCEL":
                self._report_leg_ended(call, leg, now)
            # A CANCEL is reported at the leg's Hangup: a ring-all loser's DialEnd can come just
            # before the winner's ANSWER, and only its Hangup cause 26 says "answered elsewhere".

    def _on_bridge_enter(self, event: ev.BridgeEnter, now: float | None) -> None:
        found = self._lookup("BridgeEnter", event.channel)
        if found is None:
            return
        channel, call = found
        channel.bridge_id = event.bridge_id
        leg = call.legs.get(channel.uniqueid)
        if leg is not None and not leg.answered and leg.dial_status is None:
            self._leg_answered(call, leg, now)

    def _on_bridge_leave(self, event: ev.BridgeLeave, now: float | None) -> None:
        found = self._lookup("BridgeLeave", event.channel)
        if found is None:
            return
        channel, call = found
        caller = self._channels.get(call.first_uniqueid)
        if (channel.name.startswith(_AUDIOSOCKET) and channel.uniqueid in call.legs and not call.caller_hung_up
                and caller is not None and caller.bridge_id == channel.bridge_id):
            # A softphone's HANGUP frame: chan_audiosocket sends no HangupRequest, its channel just leaves
            # the customer's bridge first (then the customer is hung up, in either order with its Hangup).
            call.hangup_requests.append(channel.party)
        channel.bridge_id = ""

    def _on_hangup_request(self, event: ev.HangupRequest, now: float | None) -> None:
        found = self._lookup("HangupRequest", event.channel)
        if found is None:
            return
        channel, call = found
        leg = call.legs.get(channel.uniqueid)
        if channel.uniqueid == call.first_uniqueid:
            if not call.caller_hung_up:
                call.caller_hung_up = True
                call.caller_hangup_at = now
            call.hangup_requests.append(channel.party)
            if call.pending_abandon is not None:
                self._resolve_abandon(call, timed_out=False)
        elif (leg is not None and leg.answered) or channel.bridge_id:
            call.hangup_requests.append(channel.party)

    def _on_soft_hangup_request(self, event: ev.SoftHangupRequest, now: float | None) -> None:
        found = self._lookup("SoftHangupRequest", event.channel)
        if found is not None:
            found[1].soft_hangup_seen = True

    def _on_hangup(self, event: ev.Hangup, now: float | None) -> None:
        found = self._lookup("Hangup", event.channel)
        if found is None:
            return
        channel, call = found
        del self._channels[channel.uniqueid]
        call.channels.discard(channel.uniqueid)
        if channel.uniqueid == call.first_uniqueid:
            call.first_hangup_cause = event.cause
        leg = call.legs.get(channel.uniqueid)
        if leg is not None:
            leg.hangup_cause = event.cause
            if leg.dial_status is None:
                leg.dial_status = _CAUSE_STATUS.get(event.cause or 0, "CANCEL")
            if leg.ended_at is None:
                leg.ended_at = now
            self._report_leg_ended(call, leg, now)
        if not call.channels:
            self._end_call(call, now)

    def _on_var_set(self, event: ev.VarSet, now: float | None) -> None:
        if event.channel is None:
            return
        found = self._lookup("VarSet", event.channel)
        if found is None:
            return
        call = found[1]
        name, value = event.variable.upper(), event.value.strip().upper()
        if name == "DIALSTATUS" and value:
            call.dial_statuses.append((value, now))
            unreachable = value if value in ("CHANUNAVAIL", "CONGESTION") else "CHANUNAVAIL"
            self._targets_without_channel(call, unreachable, now)
        elif name == "QUEUESTATUS" and value:
            if value == "TIMEOUT":
                call.queue_timeout = True
                call.queue_timeout_at = now
            self._resolve_abandon(call, timed_out=value == "TIMEOUT")

    def _on_queue_join(self, event: ev.QueueCallerJoin, now: float | None) -> None:
        found = self._lookup("QueueCallerJoin", event.channel)
        if found is None:
            return
        call = found[1]
        call.queue = event.queue
        self._try_start(call, force=True)
        self._emit(cf.QueueJoined(call_id=call.call_id, at=now, queue=event.queue, position=event.position,
                                  count=event.count))

    def _on_queue_leave(self, event: ev.QueueCallerLeave, now: float | None) -> None:
        found = self._lookup("QueueCallerLeave", event.channel)
        if found is not None:
            self._emit(cf.QueueLeft(call_id=found[1].call_id, at=now, queue=event.queue, position=event.position))

    def _on_queue_abandon(self, event: ev.QueueCallerAbandon, now: float | None) -> None:
        found = self._lookup("QueueCallerAbandon", event.channel)
        if found is None:
            return
        call = found[1]
        # Asterisk sends this on a queue timeout too: decide once the caller's hang-up or
        # QUEUESTATUS tells which it was (at the latest when the call ends).
        call.pending_abandon = (event.queue, event.position, event.hold_time_s, now)
        if call.caller_hung_up or call.queue_timeout:
            self._resolve_abandon(call, timed_out=call.queue_timeout and not call.caller_hung_up)

    def _queue_member(self, what: str, event: ev.AgentCalled | ev.AgentConnect | ev.AgentRingNoAnswer
                      ) -> tuple[CallState, str | None] | None:
        """The caller's call (started if not yet reported) and the member's extension, or None if unknown."""
        found = self._lookup(what, event.channel)
        if found is None:
            return None
        call = found[1]
        self._try_start(call, force=True)
        member = event.dest.name if event.dest is not None else event.interface
        return call, self._classifier.classify(member).extension

    def _on_agent_called(self, event: ev.AgentCalled, now: float | None) -> None:
        if (member := self._queue_member("AgentCalled", event)) is not None:
            call, extension = member
            self._emit(cf.AgentCalled(call_id=call.call_id, at=now, queue=event.queue, extension=extension,
                                      member_name=event.member_name))

    def _on_agent_connect(self, event: ev.AgentConnect, now: float | None) -> None:
        if (member := self._queue_member("AgentConnect", event)) is not None:
            call, extension = member
            self._emit(cf.AgentConnected(call_id=call.call_id, at=now, queue=event.queue, extension=extension,
                                         ring_s=event.ring_time_s, hold_s=event.hold_time_s))

    def _on_agent_ring_no_answer(self, event: ev.AgentRingNoAnswer, now: float | None) -> None:
        if (member := self._queue_member("AgentRingNoAnswer", event)) is not None:
            call, extension = member
            self._emit(cf.AgentRingNoAnswer(call_id=call.call_id, at=now, queue=event.queue, extension=extension,
                                            ring_s=event.ring_time_s))

    def _on_blind_transfer(self, event: ev.BlindTransfer, now: float | None) -> None:
        call = self._call_of(event.transferer, event.transferee)
        if call is None:
            self.stats.unknown_channel_events += 1
            return
        source = self._classifier.classify(event.transferer.name) if event.transferer else None
        transfer = self._add_transfer(call, cf.TransferKind.BLIND, source.extension if source else None,
                                      event.extension or None, now)
        if event.result.lower() != "success":
            self._report_transfer(call, transfer, cf.TransferResult.FAILED)

    def _on_attended_transfer(self, event: ev.AttendedTransfer, now: float | None) -> None:
        call = self._call_of(event.orig_transferer, event.transferee, event.second_transferer)
        if call is None:
            self.stats.unknown_channel_events += 1
            return
        source = self._classifier.classify(event.orig_transferer.name) if event.orig_transferer else None
        source_ext = source.extension if source else None
        adopted = self._adopt_consulted_leg(call, event.transfer_target, now) if event.result.lower() == "success" \
            else None
        target_leg = adopted or self._consulted_leg(call, event, source_ext)
        target = (target_leg.party.extension or target_leg.number) if target_leg else None
        transfer = self._add_transfer(call, cf.TransferKind.ATTENDED, source_ext, target, now)
        if adopted is not None:
            self._leg_answered(call, adopted, now)  # settles the transfer: taken by the consulted colleague
        elif event.result.lower() != "success":
            self._report_transfer(call, transfer, cf.TransferResult.FAILED)
        elif target_leg is not None and target_leg.answered:
            # Consulted and answered: the target took the call when the transferer completed it.
            self._transfer_taken(call, target_leg)
        # Otherwise a "blonde" transfer, completed while the target still rang: it is taken (or not)
        # when that leg answers (or ends).

    def _on_pickup(self, event: ev.Pickup, now: float | None) -> None:
        """A colleague took a ringing call: their channel joins that call as the leg that answered it.

        The picker's own call (its dial of ``*8``) is only plumbing: it disappears without a record; the
        picked-up phone's leg ends "answered elsewhere" when Asterisk hangs it up just after.
        """
        target = self._channels.get(event.target.uniqueid)
        picker = self._channels.get(event.channel.uniqueid)
        call = self._calls.get(target.call_id) if target is not None else None
        if picker is None or call is None:
            self._unknown("Pickup", event.channel.uniqueid)
            return
        self._move_channel(picker, call)
        if picker.party.real and picker.uniqueid not in call.legs:
            leg = LegState(uniqueid=picker.uniqueid, channel=picker.name, party=picker.party, number=None,
                           began_at=now)
            call.legs[leg.uniqueid] = leg
            self._leg_answered(call, leg, now)

    def _on_core_show_channel(self, event: ev.CoreShowChannel, now: float | None) -> None:
        info = event.channel
        if info.uniqueid in self._channels:
            return
        created = None if now is None or event.duration_s is None else now - event.duration_s
        call_id = info.linkedid or info.uniqueid
        call = self._calls.get(call_id)
        party = self._classifier.classify(info.name)
        if call is None:
            call = self._new_call(call_id, info, party, created)
            call.resynced = True
        elif call.resynced and info.uniqueid == call_id and not call.started_reported:
            # The call's own first channel (uniqueid == linkedid) replaces a provisional one.
            call.first_uniqueid, call.first_party = info.uniqueid, party
            call.first_caller_num, call.first_exten, call.started_at = info.caller_num, info.exten, created
        channel = self._add_channel(call, info, created)
        channel.bridge_id = event.bridge_id
        self.stats.resynced_channels += 1
        if event.application == "Queue" and not call.queue:
            call.queue = event.application_data.split(",", 1)[0] or None  # the caller waits in (or talks from) it
        # A dialled channel: "AppDial" for Dial, "AppQueue" for a queue member (both "(Outgoing Line)").
        if event.application in _DIALLED_APPS and party.real:
            call.legs[info.uniqueid] = LegState(
                uniqueid=info.uniqueid, channel=info.name, party=party,
                number=None if party.extension else (info.caller_num or None), began_at=created,
            )
        self._resync_calls.add(call_id)

    def _on_core_show_complete(self, event: ev.CoreShowChannelsComplete, now: float | None) -> None:
        for call_id in sorted(self._resync_calls):
            call = self._calls.get(call_id)
            if call is None:
                continue
            self._try_start(call, force=True)
            for leg in call.legs.values():
                channel = self._channels.get(leg.uniqueid)
                if channel is None:
                    continue
                if channel.state == "Up" or channel.bridge_id:
                    self._leg_answered(call, leg, None)
                elif channel.ringing:
                    self._report_ringing(call, leg, now)
        self._resync_calls.clear()
        # The list is complete: a call recorded as open but not listed ended while we were not looking.
        self._emit(cf.LiveCallsResynced(at=now, live_call_ids=frozenset(self._calls)))


def _bind(kind: type[_E], handler: Callable[[_E, float | None], None]) -> tuple[type[ev.AmiEvent], _Handler]:
    """One row of the dispatch table; the table is keyed by exact class, so the cast is safe."""

    def call(event: ev.AmiEvent, now: float | None) -> None:
        handler(cast(_E, event), now)

    return kind, call


def _external_number(event: ev.DialBegin) -> str | None:
    """The number an external leg dials: ``DestExten``, else the dial string (``79161110013@trunk``)."""
    if event.dest.exten and event.dest.exten != "s":
        return event.dest.exten
    return dial_targets.dialled_number(event.dial_string)

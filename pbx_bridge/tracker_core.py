"""Call tracker state keeping and fact reporting, shared by the event handlers in
:mod:`pbx_bridge.call_tracker`.

Split out so each module stays readable: this one knows how a leg or call is reported (ringing
before answered, each fact once, CallStarted before anything else of its call, the outcome at the
end); the handlers module knows which AMI event moves which piece of state.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge import dial_targets
from pbx_bridge.call_outcome import call_ended, call_started, resolve_direction
from pbx_bridge.log_safe import printable
from pbx_bridge.tracker_state import (
    CallState,
    ChannelClassifier,
    ChannelState,
    LegState,
    Party,
    TrackerSettings,
    TransferState,
)

logger = logging.getLogger(__name__)

_CAUSE_ANSWERED_ELSEWHERE = 26
#: Ended calls kept waiting for their Cdr (a Cdr comes within moments of the end, or not at all).
_AWAITING_CDR_MAX = 1000
#: A transfer target's dial status to what the transfer came to, when nobody took it.
_TRANSFER_REFUSALS = {"BUSY": cf.TransferResult.BUSY, "NOANSWER": cf.TransferResult.NO_ANSWER}


@dataclass(slots=True)
class TrackerStats:
    events: int = 0
    ignored_events: int = 0
    unknown_channel_events: int = 0
    calls_started: int = 0
    calls_ended: int = 0
    resets: int = 0
    calls_dropped_on_reset: int = 0
    resynced_channels: int = 0
    calls_lost: int = 0


class TrackerCore:
    """State and reporting helpers; :class:`~pbx_bridge.call_tracker.CallTracker` adds the handlers."""

    def __init__(self, settings: TrackerSettings | None = None, sink: cf.CallFactSink | None = None) -> None:
        self._classifier = ChannelClassifier(settings or TrackerSettings())
        self._sink = sink
        self._channels: dict[str, ChannelState] = {}
        self._calls: dict[str, CallState] = {}
        self._resync_calls: set[str] = set()
        self._now: float | None = None
        self._out: list[cf.CallFact] = []
        self._stale_call_s = (settings or TrackerSettings()).stale_call_s
        #: Ended calls answered before we looked, by their first channel's uniqueid (a Cdr's UniqueID):
        #: their talk time comes with the Cdr, which may follow the last Hangup. Oldest first, bounded.
        self._awaiting_cdr: OrderedDict[str, tuple[str, float | None]] = OrderedDict()
        #: Event time of the last look for stale calls (one look per simulated/real minute is plenty).
        self._stale_checked_at: float | None = None
        self.stats = TrackerStats()

    # --- helpers -------------------------------------------------------------------------------

    def _emit(self, fact: cf.CallFact) -> None:
        self._out.append(fact)

    def _unknown(self, what: str, uniqueid: str) -> None:
        self.stats.unknown_channel_events += 1
        logger.debug("%s for unknown channel %s ignored", what, uniqueid)

    def _lookup(self, what: str, info: ev.ChannelInfo) -> tuple[ChannelState, CallState] | None:
        channel = self._channels.get(info.uniqueid)
        if channel is None:
            self._unknown(what, info.uniqueid)
            return None
        call = self._calls.get(channel.call_id)
        if call is None:
            self._unknown(what, info.uniqueid)
            return None
        return channel, call

    def _call_of(self, *infos: ev.ChannelInfo | None) -> CallState | None:
        for info in infos:
            if info is None:
                continue
            channel = self._channels.get(info.uniqueid)
            call_id = channel.call_id if channel is not None else info.linkedid
            if call_id is not None and call_id in self._calls:
                return self._calls[call_id]
        return None

    def _add_channel(self, call: CallState, info: ev.ChannelInfo, created_at: float | None) -> ChannelState:
        channel = ChannelState(
            uniqueid=info.uniqueid, name=info.name, call_id=call.call_id,
            party=self._classifier.classify(info.name), state=info.state, caller_num=info.caller_num,
            exten=info.exten, created_at=created_at, ringing=info.state == "Ringing",
        )
        self._channels[info.uniqueid] = channel
        call.channels.add(info.uniqueid)
        self._note_state(call, channel)
        return channel

    @staticmethod
    def _note_state(call: CallState, channel: ChannelState) -> None:
        if channel.state == "Up" and channel.uniqueid == call.first_uniqueid:
            call.caller_up = True

    def _new_call(self, call_id: str, info: ev.ChannelInfo, party: Party, started_at: float | None) -> CallState:
        call = CallState(
            call_id=call_id, first_uniqueid=info.uniqueid, first_party=party,
            first_caller_num=info.caller_num, first_exten=info.exten, started_at=started_at,
            first_caller_name=ev.unescape(info.caller_name),
        )
        self._calls[call_id] = call
        return call

    def _try_start(self, call: CallState, *, force: bool) -> None:
        if call.started_reported:
            return
        direction = resolve_direction(call, self._classifier, force=force)
        if direction is None:
            return
        call.direction = direction
        call.started_reported = True
        self.stats.calls_started += 1
        fact = call_started(call, direction)
        logger.info("call %s started: %s from %s to %s", printable(call.call_id), direction, printable(fact.caller),
                    printable(fact.dialled))
        self._emit(fact)

    def _report_ringing(self, call: CallState, leg: LegState, at: float | None) -> None:
        if leg.ringing_reported:
            return
        self._try_start(call, force=True)
        leg.ringing_reported = True
        self._emit(cf.LegRinging(call_id=call.call_id, at=at, channel=leg.channel,
                                 extension=leg.party.extension, number=leg.number))

    def _leg_answered(self, call: CallState, leg: LegState, at: float | None) -> None:
        if leg.answered:
            return
        self._report_ringing(call, leg, at)
        leg.answered = True
        leg.answered_at = at
        leg.dial_status = "ANSWER"
        ring_s = None if at is None or leg.began_at is None else max(0.0, at - leg.began_at)
        self._emit(cf.LegAnswered(call_id=call.call_id, at=at, channel=leg.channel,
                                  extension=leg.party.extension, number=leg.number, ring_s=ring_s))
        if not leg.originate_leg and call.answered_leg is None:
            call.answered_leg = leg.uniqueid
            call.answered_at = at
            logger.info("call %s answered by %s", printable(call.call_id), printable(leg.party.extension or leg.number))
        if not leg.originate_leg:
            self._transfer_taken(call, leg)

    def _report_leg_ended(self, call: CallState, leg: LegState, at: float | None) -> None:
        if leg.ended_reported:
            return
        self._try_start(call, force=True)
        leg.ended_reported = True
        until = leg.answered_at if leg.answered else (leg.ended_at if leg.ended_at is not None else at)
        ring_s = None if until is None or leg.began_at is None else max(0.0, until - leg.began_at)
        status = leg.dial_status or "CANCEL"
        elsewhere = not leg.answered and (
            (status == "CANCEL" and call.answered_leg is not None)
            or leg.hangup_cause == _CAUSE_ANSWERED_ELSEWHERE
        )
        self._emit(cf.LegEnded(call_id=call.call_id, at=at, channel=leg.channel, extension=leg.party.extension,
                               number=leg.number, dial_status=status, ring_s=ring_s,
                               answered_elsewhere=elsewhere))
        if not leg.answered and not elsewhere:
            for transfer in self._transfers_awaiting(call, leg):
                transfer.refusal = _TRANSFER_REFUSALS.get(status, cf.TransferResult.FAILED)

    def _targets_without_channel(self, call: CallState, status: str, now: float | None) -> None:
        """The Dial is over: each target that never got a channel is a leg the PBX could not ring."""
        for target, asked_at in call.dial_targets.items():
            party = self._classifier.classify(target)
            if not party.real or dial_targets.has_leg_for(call, target, asked_at):
                continue
            number = None if party.extension else dial_targets.dialled_number(target)
            leg = LegState(uniqueid=f"{call.call_id}/{target}/{len(call.legs)}", channel=target, party=party,
                           number=number, began_at=asked_at, dial_status=status, ended_at=now)
            call.legs[leg.uniqueid] = leg
            self._report_leg_ended(call, leg, now)
        call.dial_targets = {}

    def _on_cdr(self, event: ev.Cdr, now: float | None) -> None:
        """An ANSWERED Cdr: Asterisk's talk time, for a call whose answer the bridge did not see."""
        if event.disposition != "ANSWERED" or event.billable_s is None:
            return
        # The Cdr names party A's channel, usually the call's first (its uniqueid is the Linkedid). It may
        # come after that channel's Hangup while the call's other channels are still up.
        call = self._calls.get(event.unique_id)
        if call is None and (channel := self._channels.get(event.unique_id)) is not None:
            call = self._calls.get(channel.call_id)
        if call is not None:
            if call.answered_at is None and call.first_uniqueid == event.unique_id:
                call.pbx_talk_s = max(call.pbx_talk_s or 0.0, float(event.billable_s))
            return
        ended = self._awaiting_cdr.pop(event.unique_id, None)
        if ended is not None:
            call_id, ended_at = ended
            self._emit(cf.PbxTalkTime(call_id=call_id, at=ended_at, talk_s=float(event.billable_s)))

    def _move_channel(self, channel: ChannelState, call: CallState) -> None:
        """The channel now belongs to `call` (a pickup); a call of its own left empty was only plumbing
        (the picker's dial of ``*8``) and goes without a record."""
        own = self._calls.get(channel.call_id)
        if own is not None and own is not call:
            own.channels.discard(channel.uniqueid)
            if not own.channels:
                if own.started_reported:
                    logger.warning("call %s: picked up another call after it was reported", printable(own.call_id))
                del self._calls[own.call_id]
                self._resync_calls.discard(own.call_id)
        channel.call_id = call.call_id
        call.channels.add(channel.uniqueid)

    # --- transfers: made by an event, settled by the leg that answers after it ---------------------

    @staticmethod
    def _consulted_leg(call: CallState, event: ev.AttendedTransfer, source_ext: str | None) -> LegState | None:
        """The leg the transferer consulted: the TransferTarget channel's, else (the target is usually a Local
        channel) the latest leg of another person still up: answered first, then ringing."""
        if event.transfer_target is not None:
            leg = call.legs.get(event.transfer_target.uniqueid)
            if leg is not None:
                return leg
        others = [leg for leg in call.legs.values() if leg.ended_at is None and not leg.originate_leg
                  and (leg.party.extension or leg.number) not in (None, source_ext)]
        answered = [leg for leg in others if leg.answered]
        candidates = answered or others
        return candidates[-1] if candidates else None

    def _adopt_consulted_leg(self, call: CallState, target: ev.ChannelInfo | None,
                             now: float | None) -> LegState | None:
        """The target of a phone's own attended transfer (REFER with Replaces), talking in a call of its own.

        The transferer placed the consultation itself, so it has its own Linkedid; Asterisk moves the
        customer into that bridge. The colleague's channel joins the customer's call as a leg (answered
        now, by the caller); in the consultation, which stays an internal call, their leg ends here.
        """
        channel = self._channels.get(target.uniqueid) if target is not None else None
        if channel is None or channel.call_id == call.call_id or not channel.party.real or channel.state != "Up":
            return None
        consultation = self._calls.get(channel.call_id)
        consulted = consultation.legs.get(channel.uniqueid) if consultation is not None else None
        if consultation is not None and consulted is not None and consulted.ended_at is None:
            consulted.ended_at = now
            self._report_leg_ended(consultation, consulted, now)
        self._move_channel(channel, call)
        leg = LegState(uniqueid=channel.uniqueid, channel=channel.name, party=channel.party,
                       number=None if channel.party.extension else (channel.caller_num or None), began_at=now)
        call.legs[leg.uniqueid] = leg
        return leg

    def _add_transfer(self, call: CallState, kind: cf.TransferKind, from_extension: str | None,
                      target: str | None, at: float | None) -> TransferState:
        self._try_start(call, force=True)
        transfer = TransferState(seq=len(call.transfers) + 1, kind=kind, from_extension=from_extension,
                                 target=target, at=at)
        call.transfers.append(transfer)
        return transfer

    def _report_transfer(self, call: CallState, transfer: TransferState, result: cf.TransferResult) -> None:
        if transfer.reported:
            return
        transfer.reported = True
        logger.info("call %s transfer %d (%s) from %s to %s: %s", printable(call.call_id), transfer.seq,
                    transfer.kind, printable(transfer.from_extension), printable(transfer.taken_by or transfer.target),
                    result)
        self._emit(cf.Transferred(call_id=call.call_id, at=transfer.at, kind=transfer.kind,
                                  from_extension=transfer.from_extension, to=transfer.taken_by,
                                  target=transfer.target, result=result, seq=transfer.seq))

    @staticmethod
    def _transfers_awaiting(call: CallState, leg: LegState) -> list[TransferState]:
        """Unsettled transfers this leg answers for: it is their target, or it was dialled after them."""
        label = leg.party.extension or leg.number
        if label is None:
            return []
        return [t for t in call.transfers if not t.reported and label != t.from_extension and (
            label == t.target or (t.at is not None and leg.began_at is not None and leg.began_at >= t.at))]

    def _transfer_taken(self, call: CallState, leg: LegState) -> None:
        for transfer in self._transfers_awaiting(call, leg):
            transfer.taken_by = leg.party.extension or leg.number
            transfer.taken_by_extension = leg.party.extension
            self._report_transfer(call, transfer, cf.TransferResult.COMPLETED)

    def _resolve_abandon(self, call: CallState, *, timed_out: bool) -> None:
        if call.pending_abandon is None:
            return
        queue, position, hold_s, at = call.pending_abandon
        call.pending_abandon = None
        call.queue_abandoned = not timed_out
        self._try_start(call, force=True)
        self._emit(cf.QueueAbandoned(call_id=call.call_id, at=at, queue=queue, position=position,
                                     hold_s=hold_s, timed_out=timed_out))

    def _drop_stale_calls(self) -> None:
        """Forget calls whose Hangup never came within the bound, reporting each as lost."""
        now = self._now
        if now is None or (self._stale_checked_at is not None and now - self._stale_checked_at < 60.0):
            return
        self._stale_checked_at = now
        limit = now - self._stale_call_s
        for call in [c for c in self._calls.values() if c.started_at is not None and c.started_at < limit]:
            logger.warning("call %s: no Hangup %.0f s after it started; dropped as lost", printable(call.call_id),
                           now - (call.started_at or now))
            for uniqueid in call.channels:
                self._channels.pop(uniqueid, None)
            del self._calls[call.call_id]
            self._resync_calls.discard(call.call_id)
            self.stats.calls_lost += 1
            self._emit(cf.CallLost(call_id=call.call_id, at=now, reason=cf.LostReason.STALE))

    def _end_call(self, call: CallState, now: float | None) -> None:
        self._resolve_abandon(call, timed_out=call.queue_timeout)
        self._try_start(call, force=True)
        for leg in call.legs.values():
            self._report_leg_ended(call, leg, now)
        for transfer in call.transfers:
            self._report_transfer(call, transfer, transfer.refusal or cf.TransferResult.ABANDONED)
        call.ended_at = now
        assert call.direction is not None  # set by _try_start(force=True)
        fact = call_ended(call, call.direction)
        logger.info("call %s ended: %s %s answered_by=%s hung_up_by=%s", printable(call.call_id), fact.outcome,
                    fact.reason or "", printable(fact.answered_by), printable(fact.hung_up_by))
        self._emit(fact)
        self.stats.calls_ended += 1
        if fact.outcome is cf.Outcome.ANSWERED and fact.talk_s is None:
            self._awaiting_cdr[call.first_uniqueid] = (call.call_id, now)
            while len(self._awaiting_cdr) > _AWAITING_CDR_MAX:
                self._awaiting_cdr.popitem(last=False)
        del self._calls[call.call_id]
        self._resync_calls.discard(call.call_id)

"""Tracker behaviour beyond the happy captures: reconnects, resync, unknown channels, and the
Asterisk 22 quirks that no single capture shows (queue timeout, unregistered operator, transfers)."""

from __future__ import annotations

import dataclasses

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import FrameParser
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.tracker_state import PartyKind, TrackerSettings
from tests.tracker_helpers import ListSink, capture_events, only, replay, the_end, the_start


def chan(name: str, uid: str, linked: str = "1.0", state: str = "Up", num: str = "", exten: str = "") -> ev.ChannelInfo:
    return ev.ChannelInfo(name=name, uniqueid=uid, linkedid=linked, state=state, caller_num=num,
                          caller_name="", connected_num="", context="", exten=exten)


TRUNK = chan("PJSIP/trunk-00000000", "1.0", state="Ring", num="79160000001", exten="74951234501")
OP101 = chan("PJSIP/101-00000001", "1.1", state="Down", num="101", exten="s")
OP102 = chan("PJSIP/102-00000002", "1.2", state="Down", num="102", exten="s")


def _index(events: list[ev.AmiEvent], kind: type[ev.AmiEvent], channel_name: str, state: str | None = None) -> int:
    for i, event in enumerate(events):
        info = getattr(event, "channel", None)
        if type(event) is kind and isinstance(info, ev.ChannelInfo) and info.name == channel_name:
            if state is None or info.state == state:
                return i
    raise AssertionError(f"no {kind.__name__} for {channel_name}")


def _resync_bytes(lines: list[str]) -> list[ev.AmiEvent]:
    text = "Response: Success\r\nEventList: start\r\nActionID: r1\r\n\r\n" + "".join(
        block.replace("\n", "\r\n") + "\r\n" for block in lines)
    return ev.events_from_frames(FrameParser().feed(text.encode()))


def test_unknown_channels_are_counted_not_fatal() -> None:
    events = capture_events("inbound_answered")
    cut = _index(events, ev.BridgeEnter, "PJSIP/trunk-00000000")
    tracker = CallTracker()
    assert tracker.feed_all(events[cut:]) == []
    assert tracker.stats.unknown_channel_events > 0
    assert tracker.live_call_ids == []


def test_fully_booted_drops_state_and_tracking_resumes() -> None:
    events = capture_events("inbound_answered")
    cut = _index(events, ev.BridgeEnter, "PJSIP/trunk-00000000")
    tracker = CallTracker()
    tracker.feed_all(events[:cut])
    assert tracker.live_call_ids == ["1795345255.0"]
    assert tracker.feed(ev.FullyBooted(timestamp=None)) == []
    assert tracker.live_call_ids == [] and tracker.live_channel_count == 0
    assert tracker.stats.calls_dropped_on_reset == 1
    # The rest of the dropped call is unknown now; a new capture is tracked normally.
    assert tracker.feed_all(events[cut:]) == []
    facts = tracker.feed_all(capture_events("inbound_busy"))
    assert the_end(facts).reason is cf.MissedReason.BUSY


def _answered_call_listed() -> list[ev.AmiEvent]:
    """What CoreShowChannels answers in the middle of the inbound_answered capture's call (101 talking)."""
    return _resync_bytes([
        "Event: CoreShowChannel\nActionID: r1\nChannel: PJSIP/trunk-00000000\nChannelStateDesc: Up\n"
        "CallerIDNum: 79161110001\nExten: 74951234501\nUniqueid: 1795345255.0\nLinkedid: 1795345255.0\n"
        "Application: Dial\nApplicationData: PJSIP/101,20,t\nDuration: 00:00:03\nBridgeId: b1\n",
        "Event: CoreShowChannel\nActionID: r1\nChannel: PJSIP/101-00000001\nChannelStateDesc: Up\n"
        "CallerIDNum: 101\nExten: s\nUniqueid: 1795345255.1\nLinkedid: 1795345255.0\n"
        "Application: AppDial\nApplicationData: (Outgoing Line)\nDuration: 00:00:03\nBridgeId: b1\n",
        "Event: CoreShowChannelsComplete\nActionID: r1\nEventList: Complete\nListItems: 2\n",
    ])


def test_core_show_channels_resync_mid_call_answered() -> None:
    events = capture_events("inbound_answered")
    cut = _index(events, ev.BridgeEnter, "PJSIP/trunk-00000000") + 1
    resync = _answered_call_listed()
    assert [type(e) for e in resync] == [ev.CoreShowChannel, ev.CoreShowChannel, ev.CoreShowChannelsComplete]
    tracker = CallTracker()
    facts = tracker.feed_all([ev.FullyBooted(timestamp=None), *resync, *events[cut:]])
    start = the_start(facts)
    assert (start.direction, start.caller, start.dialled, start.resynced) == (
        cf.Direction.INBOUND, "79161110001", "74951234501", True)
    assert [f.extension for f in only(facts, cf.LegAnswered)] == ["101"]
    end = the_end(facts)
    assert (end.outcome, end.answered_by, end.hung_up_by) == (cf.Outcome.ANSWERED, "101", cf.HungUpBy.CUSTOMER)
    # The answer happened before we looked: the talk time is Asterisk's own (the Cdr's BillableSeconds).
    assert end.talk_s == 3.0
    assert tracker.live_call_ids == [] and tracker.stats.resynced_channels == 2


def test_resync_talk_time_from_a_cdr_that_comes_after_the_end() -> None:
    """Asterisk may send the Cdr after the last Hangup: the call ends without a talk time, and the Cdr
    then brings Asterisk's own figure for it (BillableSeconds 3 in this capture)."""
    events = capture_events("inbound_answered")
    cut = _index(events, ev.BridgeEnter, "PJSIP/trunk-00000000") + 1
    resync = _answered_call_listed()
    rest = events[cut:]
    cdrs = [e for e in rest if isinstance(e, ev.Cdr)]
    facts = CallTracker().feed_all([ev.FullyBooted(timestamp=None), *resync,
                                    *[e for e in rest if not isinstance(e, ev.Cdr)], *cdrs])
    end = the_end(facts)
    assert (end.outcome, end.talk_s) == (cf.Outcome.ANSWERED, None)
    [talk] = only(facts, cf.PbxTalkTime)
    assert (talk.call_id, talk.talk_s, talk.at) == (end.call_id, 3.0, end.at)
    # The Cdr between the caller's Hangup and the operator's (seen on the real Asterisk) still counts.
    last = max(i for i, e in enumerate(rest) if isinstance(e, ev.Hangup))
    between = [e for e in rest[:last] if not isinstance(e, ev.Cdr)] + cdrs + [rest[last]]
    end = the_end(CallTracker().feed_all([ev.FullyBooted(timestamp=None), *resync, *between]))
    assert end.talk_s == 3.0
    # A call seen live has its own figures: no Cdr-based fact.
    assert only(replay(capture_events("inbound_answered")), cf.PbxTalkTime) == []


def test_resync_of_a_queue_call_already_answered_by_a_member() -> None:
    """Found on the real Asterisk: a queue member's channel shows Application AppQueue, not AppDial."""
    events = capture_events("queue_answered")
    cut = _index(events, ev.BridgeEnter, "PJSIP/trunk-00000010") + 1
    resync = _resync_bytes([
        "Event: CoreShowChannel\nActionID: r1\nChannel: PJSIP/trunk-00000010\nChannelStateDesc: Up\n"
        "CallerIDNum: 79161110008\nExten: 74951234508\nUniqueid: 1795345321.16\nLinkedid: 1795345321.16\n"
        "Application: Queue\nApplicationData: sales,tr,,,120\nDuration: 00:00:05\nBridgeId: b7\n",
        "Event: CoreShowChannel\nActionID: r1\nChannel: PJSIP/102-00000012\nChannelStateDesc: Up\n"
        "CallerIDNum: 102\nExten: s\nUniqueid: 1795345321.18\nLinkedid: 1795345321.16\n"
        "Application: AppQueue\nApplicationData: (Outgoing Line)\nDuration: 00:00:03\nBridgeId: b7\n",
        "Event: CoreShowChannelsComplete\nActionID: r1\nEventList: Complete\nListItems: 2\n",
    ])
    facts = CallTracker().feed_all([ev.FullyBooted(timestamp=None), *resync, *events[cut:]])
    assert [f.extension for f in only(facts, cf.LegAnswered)] == ["102"]
    end = the_end(facts)
    assert (end.outcome, end.answered_by) == (cf.Outcome.ANSWERED, "102")


def test_core_show_channels_resync_while_ringing() -> None:
    events = capture_events("inbound_no_answer")
    cut = _index(events, ev.Newstate, "PJSIP/101-00000005", "Ringing") + 1
    resync = _resync_bytes([
        "Event: CoreShowChannel\nChannel: PJSIP/101-00000005\nChannelStateDesc: Ringing\nCallerIDNum: 101\n"
        "Uniqueid: 1795345274.5\nLinkedid: 1795345274.4\nApplication: AppDial\nDuration: 00:00:01\nBridgeId: \n",
        "Event: CoreShowChannel\nChannel: PJSIP/trunk-00000004\nChannelStateDesc: Ring\nCallerIDNum: 79161110003\n"
        "Exten: 74951234503\nUniqueid: 1795345274.4\nLinkedid: 1795345274.4\nApplication: Dial\n"
        "Duration: 00:00:01\nBridgeId: \n",
        "Event: CoreShowChannelsComplete\nEventList: Complete\nListItems: 2\n",
    ])
    tracker = CallTracker()
    tracker.feed_all(events[:cut])  # the bridge saw the start, then reconnected
    facts = tracker.feed_all([ev.FullyBooted(timestamp=None), *resync, *events[cut:]])
    start = the_start(facts)
    assert start.caller == "79161110003" and start.dialled == "74951234503"
    assert [f.extension for f in only(facts, cf.LegRinging)] == ["101"]
    end = the_end(facts)
    assert (end.outcome, end.reason, end.hung_up_by) == (cf.Outcome.MISSED, cf.MissedReason.NO_ANSWER,
                                                         cf.HungUpBy.PBX)
    assert end.ring_s is not None and 7.0 < end.ring_s < 9.5  # started_at from the channel's Duration


def test_queue_timeout_is_not_an_abandon() -> None:
    """Asterisk sends QueueCallerAbandon on a timeout too; VarSet QUEUESTATUS=TIMEOUT tells them apart."""
    events = capture_events("queue_abandoned")
    trunk = "PJSIP/trunk-00000013"
    request = _index(events, ev.HangupRequest, trunk)
    leave = _index(events, ev.QueueCallerLeave, trunk)
    leave_event = events[leave]
    assert isinstance(leave_event, ev.QueueCallerLeave)
    timeout = ev.VarSet(timestamp=leave_event.timestamp, channel=leave_event.channel,
                        variable="QUEUESTATUS", value="TIMEOUT")
    changed = events[:request] + events[request + 1:leave] + [leave_event, timeout] + events[leave + 1:]
    facts = replay(changed)
    assert [f.timed_out for f in only(facts, cf.QueueAbandoned)] == [True]
    end = the_end(facts)
    assert (end.outcome, end.reason, end.hung_up_by) == (cf.Outcome.MISSED, cf.MissedReason.QUEUE_TIMEOUT,
                                                         cf.HungUpBy.PBX)


def test_unregistered_operator_is_unavailable() -> None:
    """PJSIP/104 unregistered: no DialBegin/DialEnd, no channel, only VarSet DIALSTATUS=CHANUNAVAIL."""
    facts = replay([
        ev.FullyBooted(timestamp=None),
        ev.Newchannel(timestamp=10.0, channel=TRUNK),
        ev.VarSet(timestamp=10.1, channel=TRUNK, variable="DIALSTATUS", value="CHANUNAVAIL"),
        ev.SoftHangupRequest(timestamp=10.2, channel=TRUNK, cause=3, tech_cause=None),
        ev.Hangup(timestamp=10.3, channel=TRUNK, cause=3, cause_txt="No route to destination"),
    ])
    assert [type(f) for f in facts] == [cf.CallStarted, cf.CallEnded]
    end = the_end(facts)
    assert (end.outcome, end.reason, end.hung_up_by) == (cf.Outcome.MISSED, cf.MissedReason.UNAVAILABLE,
                                                         cf.HungUpBy.PBX)
    assert end.ring_s is not None and abs(end.ring_s - 0.3) < 1e-6


def test_a_dial_target_that_never_got_a_channel_is_a_leg() -> None:
    """Ring-all of 101 and 104 (unregistered): 104 gets no channel and no DialBegin; Newexten's Dial names it.

    "Calls that rang me" and the per-manager audit must see that 104 was asked for and could not be rung.
    """
    dial = ev.Newexten(timestamp=10.05, channel=TRUNK, app_data="PJSIP/101&PJSIP/104,20,t")
    op = ev.ChannelInfo(name="PJSIP/101-00000001", uniqueid="10.1", linkedid=TRUNK.linkedid, state="Ring",
                        caller_num="101", caller_name="", connected_num="", context="from-internal", exten="s")
    facts = replay([
        ev.FullyBooted(timestamp=None),
        ev.Newchannel(timestamp=10.0, channel=TRUNK),
        dial,
        ev.Newchannel(timestamp=10.06, channel=op),
        ev.DialBegin(timestamp=10.06, caller=TRUNK, dest=op, dial_string="101"),
        ev.DialEnd(timestamp=30.06, caller=TRUNK, dest=op, dial_status="NOANSWER"),
        ev.Hangup(timestamp=30.07, channel=op, cause=0, cause_txt="Unknown"),
        ev.VarSet(timestamp=30.08, channel=TRUNK, variable="DIALSTATUS", value="NOANSWER"),
        ev.SoftHangupRequest(timestamp=30.1, channel=TRUNK, cause=16, tech_cause=None),
        ev.Hangup(timestamp=30.2, channel=TRUNK, cause=16, cause_txt="Normal Clearing"),
    ])
    ended = {f.extension: f.dial_status for f in only(facts, cf.LegEnded)}
    assert ended == {"101": "NOANSWER", "104": "CHANUNAVAIL"}
    assert the_end(facts).reason is cf.MissedReason.NO_ANSWER


def test_an_unreachable_trunk_is_a_leg_to_the_number() -> None:
    """An operator's outbound call through a trunk Asterisk finds Unavailable: no channel, CHANUNAVAIL."""
    op = ev.ChannelInfo(name="PJSIP/101-00000002", uniqueid="20.0", linkedid="20.0", state="Ring",
                        caller_num="101", caller_name="", connected_num="", context="from-internal",
                        exten="79161110013")
    facts = replay([
        ev.Newchannel(timestamp=20.0, channel=op),
        ev.Newexten(timestamp=20.01, channel=op, app_data="PJSIP/79161110013@trunk,45,Tb(perezvon-outbound-cid^s^1)"),
        ev.VarSet(timestamp=20.02, channel=op, variable="DIALSTATUS", value="CHANUNAVAIL"),
        ev.Hangup(timestamp=20.1, channel=op, cause=3, cause_txt="No route to destination"),
    ])
    [leg] = only(facts, cf.LegEnded)
    assert (leg.number, leg.dial_status) == ("79161110013", "CHANUNAVAIL")
    end = the_end(facts)
    assert (end.direction, end.outcome, end.reason) == (cf.Direction.OUTBOUND, cf.Outcome.MISSED,
                                                        cf.MissedReason.UNAVAILABLE)


def test_blind_transfer() -> None:
    up101 = dataclasses.replace(OP101, state="Up")
    sink = ListSink()
    tracker = CallTracker(sink=sink)
    returned = tracker.feed_all([
        ev.Newchannel(timestamp=1.0, channel=TRUNK),
        ev.Newchannel(timestamp=1.1, channel=OP101),
        ev.DialBegin(timestamp=1.1, caller=TRUNK, dest=OP101, dial_string="101"),
        ev.Newstate(timestamp=1.2, channel=dataclasses.replace(OP101, state="Ringing")),
        ev.DialEnd(timestamp=3.0, caller=TRUNK, dest=up101, dial_status="ANSWER"),
        ev.Newstate(timestamp=3.0, channel=dataclasses.replace(TRUNK, state="Up")),  # Dial answers the caller
        ev.BridgeEnter(timestamp=3.0, channel=up101, bridge_id="b1"),
        ev.BlindTransfer(timestamp=5.0, result="Success", transferer=up101, transferee=TRUNK,
                         extension="102", context="from-internal", is_external=True),
        ev.SoftHangupRequest(timestamp=5.0, channel=up101, cause=16, tech_cause=None),
        ev.Hangup(timestamp=5.1, channel=up101, cause=16, cause_txt=""),
        ev.Newchannel(timestamp=5.2, channel=OP102),
        ev.DialBegin(timestamp=5.2, caller=TRUNK, dest=OP102, dial_string="102"),
        ev.DialEnd(timestamp=7.0, caller=TRUNK, dest=dataclasses.replace(OP102, state="Up"), dial_status="ANSWER"),
        ev.HangupRequest(timestamp=9.0, channel=TRUNK, cause=16, tech_cause=None),
        ev.Hangup(timestamp=9.1, channel=TRUNK, cause=16, cause_txt=""),
        ev.Hangup(timestamp=9.1, channel=OP102, cause=16, cause_txt=""),
    ])
    assert returned == sink.facts
    transfers = only(returned, cf.Transferred)
    assert [(t.kind, t.from_extension, t.to) for t in transfers] == [(cf.TransferKind.BLIND, "101", "102")]
    assert [f.extension for f in only(returned, cf.LegAnswered)] == ["101", "102"]
    end = the_end(returned)
    assert (end.answered_by, end.hung_up_by, end.ring_s, end.talk_s) == ("101", cf.HungUpBy.CUSTOMER, 2.0, 6.1)


def test_a_leg_that_answers_while_the_caller_never_goes_up_did_not_answer() -> None:
    """Call screening behind a Local channel: the duty mobile answers ("press 1 to accept"), refuses, and
    the caller's own channel was never connected (never Up). Missed: the person reached refused it."""
    mobile = ev.ChannelInfo(name="PJSIP/trunk-00000009", uniqueid="1.9", linkedid=TRUNK.linkedid, state="Down",
                            caller_num="", caller_name="", connected_num="", context="from-trunk",
                            exten="79160000000")
    facts = replay([
        ev.Newchannel(timestamp=1.0, channel=TRUNK),
        ev.Newchannel(timestamp=1.1, channel=mobile),
        ev.DialBegin(timestamp=1.1, caller=TRUNK, dest=mobile, dial_string="79160000000@trunk"),
        ev.DialEnd(timestamp=4.0, caller=TRUNK, dest=dataclasses.replace(mobile, state="Up"), dial_status="ANSWER"),
        ev.HangupRequest(timestamp=6.0, channel=mobile, cause=16, tech_cause=None),
        ev.Hangup(timestamp=6.0, channel=mobile, cause=16, cause_txt=""),
        ev.SoftHangupRequest(timestamp=6.1, channel=TRUNK, cause=16, tech_cause=None),
        ev.Hangup(timestamp=6.1, channel=TRUNK, cause=16, cause_txt=""),
    ])
    end = the_end(facts)
    assert (end.outcome, end.reason, end.answered_by) == (cf.Outcome.MISSED, cf.MissedReason.REJECTED, None)
    assert [f.number for f in only(facts, cf.LegAnswered)] == ["79160000000"]  # the leg itself did answer


def test_operator_to_operator_is_internal() -> None:
    caller = chan("PJSIP/101-00000001", "2.0", "2.0", state="Ring", num="101", exten="102")
    callee = chan("PJSIP/102-00000002", "2.1", "2.0", state="Down", num="102", exten="s")
    facts = replay([
        ev.Newchannel(timestamp=1.0, channel=caller),
        ev.Newchannel(timestamp=1.0, channel=callee),
        ev.DialBegin(timestamp=1.0, caller=caller, dest=callee, dial_string="102"),
        ev.DialEnd(timestamp=4.0, caller=caller, dest=callee, dial_status="NOANSWER"),
        ev.Hangup(timestamp=4.0, channel=callee, cause=0, cause_txt=""),
        ev.Hangup(timestamp=4.0, channel=caller, cause=16, cause_txt=""),
    ])
    start, end = the_start(facts), the_end(facts)
    assert (start.direction, start.caller, start.dialled) == (cf.Direction.INTERNAL, "101", "102")
    assert (end.outcome, end.reason, end.operator) == (cf.Outcome.MISSED, cf.MissedReason.NO_ANSWER, "101")


def test_channel_classification_settings() -> None:
    from pbx_bridge.tracker_state import ChannelClassifier

    default = ChannelClassifier(TrackerSettings())
    assert default.classify("PJSIP/101-00000001").kind is PartyKind.OPERATOR
    assert default.classify("PJSIP/trunk-00000001").kind is PartyKind.TRUNK
    assert default.classify("SIP/voipgrid-siproute-docker-00000016").endpoint == "voipgrid-siproute-docker"
    assert default.classify("Local/102@from-internal-00000001;1").kind is PartyKind.LOCAL
    assert default.classify("AudioSocket/127.0.0.1:9092-1").kind is PartyKind.OTHER
    strict = ChannelClassifier(TrackerSettings(trunk_endpoint_patterns=(r"trunk",)))
    assert strict.classify("PJSIP/other-00000001").kind is PartyKind.OTHER

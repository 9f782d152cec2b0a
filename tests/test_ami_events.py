"""Frames to typed events: the header names, prefixes and units Asterisk really uses."""

from __future__ import annotations

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_frames import Frame
from tests.tracker_helpers import capture_events


def _event(text: str) -> ev.AmiEvent | None:
    return ev.event_from_frame(Frame.parse(text.replace("\n", "\r\n").encode()))


def test_originate_dial_begin_has_no_caller() -> None:
    event = _event(
        "Event: DialBegin\nTimestamp: 1795345391.536960\nDestChannel: PJSIP/101-0000001f\n"
        "DestUniqueid: 1795345391.33\nDestLinkedid: 1795345391.33\nDestCallerIDNum: <unknown>\n"
        "DestExten: s\nDialString: 101\n\n"
    )
    assert isinstance(event, ev.DialBegin)
    assert event.caller is None
    assert event.dest.name == "PJSIP/101-0000001f" and event.dest.linkedid == "1795345391.33"
    assert event.dest.caller_num == ""  # <unknown> is Asterisk's empty caller ID
    assert event.timestamp == 1795345391.53696


def test_units_ring_no_answer_ms_connect_s() -> None:
    base = "Channel: PJSIP/trunk-1\nUniqueid: 1.1\nLinkedid: 1.1\nQueue: sales\nInterface: PJSIP/101\n"
    no_answer = _event("Event: AgentRingNoAnswer\n" + base + "RingTime: 5000\n\n")
    assert isinstance(no_answer, ev.AgentRingNoAnswer) and no_answer.ring_time_s == 5.0
    connect = _event("Event: AgentConnect\n" + base + "RingTime: 2\nHoldTime: 3\n\n")
    assert isinstance(connect, ev.AgentConnect) and (connect.ring_time_s, connect.hold_time_s) == (2.0, 3.0)


def test_core_show_channel_has_no_timestamp_and_hms_duration() -> None:
    event = _event(
        "Event: CoreShowChannel\nActionID: 7\nChannel: PJSIP/101-00000001\nUniqueid: 1.2\nLinkedid: 1.1\n"
        "ChannelStateDesc: Ringing\nApplication: AppDial\nDuration: 00:01:02\nBridgeId: \n\n"
    )
    assert isinstance(event, ev.CoreShowChannel)
    assert event.timestamp is None and event.duration_s == 62 and event.application == "AppDial"


def test_response_is_not_an_event_and_unknown_events_are_unhandled() -> None:
    assert _event("Response: Success\nActionID: 1\n\n") is None
    other = _event("Event: Newexten\nTimestamp: 5.5\nChannel: X\n\n")
    assert isinstance(other, ev.Unhandled) and other.name == "Newexten" and other.timestamp == 5.5


def test_missing_required_header_gives_unhandled_not_an_exception() -> None:
    event = _event("Event: Hangup\nCause: 16\n\n")
    assert isinstance(event, ev.Unhandled) and event.problem is not None
    assert _event("Event: VarSet\nChannel: X\nUniqueid: 1\n\n") == ev.Unhandled(
        timestamp=None, name="VarSet", headers=(("Event", "VarSet"), ("Channel", "X"), ("Uniqueid", "1")),
        problem="missing Variable",
    )


def test_transfer_prefixes() -> None:
    event = _event(
        "Event: BlindTransfer\nResult: Success\nTransfererChannel: PJSIP/101-1\nTransfererUniqueid: 1.2\n"
        "TransfererLinkedid: 1.1\nTransfereeChannel: PJSIP/trunk-0\nTransfereeUniqueid: 1.1\n"
        "TransfereeLinkedid: 1.1\nIsExternal: Yes\nContext: from-internal\nExtension: 102\n\n"
    )
    assert isinstance(event, ev.BlindTransfer)
    assert event.transferer is not None and event.transferer.linkedid == "1.1"
    assert event.extension == "102" and event.is_external


def test_cacofonisk_dict_loader_matches_frame_decoder() -> None:
    record = {"Event": "Hangup", "Channel": "SIP/150010002-00000007", "Uniqueid": "u.1", "Linkedid": "u.0",
              "Cause": "17", "ChannelStateDesc": "Down", "content": ""}
    from_dict = ev.event_from_dict(record)
    text = "".join(f"{k}: {v}\n" for k, v in record.items() if k != "content") + "\n"
    assert from_dict == _event(text)
    assert isinstance(from_dict, ev.Hangup) and from_dict.cause == 17


def test_real_capture_decodes_every_modelled_event() -> None:
    events = capture_events("queue_answered")
    kinds = {type(e).__name__ for e in events}
    assert {"FullyBooted", "Newchannel", "DialBegin", "DialEnd", "QueueCallerJoin", "AgentCalled",
            "AgentConnect", "AgentComplete", "QueueCallerLeave", "Cdr", "Hangup", "HangupRequest",
            "SoftHangupRequest", "BridgeEnter", "VarSet", "DeviceStateChange"} <= kinds
    assert not [e for e in events if isinstance(e, ev.Unhandled) and e.problem]
    cdrs = [e for e in events if isinstance(e, ev.Cdr)]
    assert {c.disposition for c in cdrs} == {"ANSWERED", "NO ANSWER"}

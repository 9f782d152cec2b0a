"""The AMI frame parser: chunking, line ends, banner, duplicates, and hostile input."""

from __future__ import annotations

import pytest

from pbx_bridge.ami_frames import Banner, Frame, FrameParser, serialize_action
from tests.tracker_helpers import ASTERISK22

EVENT = b"Event: VarSet\r\nChannel: PJSIP/101-00000001\r\nVariable: X\r\nValue: a: b\r\n\r\n"


def test_banner_then_frames_in_any_chunking() -> None:
    data = b"Asterisk Call Manager/11.0.0\r\n" + EVENT + b"Response: Success\r\nActionID: 1\r\n\r\n"
    for size in (1, 2, 3, 5, 64, len(data)):
        parser = FrameParser()
        items: list[Frame | Banner] = []
        for start in range(0, len(data), size):
            items.extend(parser.feed(data[start:start + size]))
        assert items[0] == Banner("Asterisk Call Manager/11.0.0")
        assert isinstance(items[0], Banner) and items[0].version == "11.0.0"
        assert [type(i) for i in items] == [Banner, Frame, Frame]
        event = items[1]
        assert isinstance(event, Frame)
        assert event.get("Value") == "a: b"  # only the first colon splits
        assert event.get("Event") == "VarSet"
        assert parser.stats.frames == 2 and parser.stats.banners == 1 and parser.stats.problems == 0


def test_bare_lf_line_ends() -> None:
    parser = FrameParser()
    frames = parser.feed(EVENT.replace(b"\r\n", b"\n"))
    assert len(frames) == 1 and isinstance(frames[0], Frame)
    assert frames[0].get("Channel") == "PJSIP/101-00000001"


def test_duplicate_headers_kept_in_order() -> None:
    data = b"Event: Newchannel\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nUniqueid: 1\r\n\r\n"
    frame = Frame.parse(data)
    assert frame.get_all("ChanVariable") == ["A=1", "B=2"]
    assert frame.headers[1] == ("ChanVariable", "A=1")
    assert bytes(frame) == data  # round trip


def test_truncated_frame_waits_for_the_rest() -> None:
    parser = FrameParser()
    assert parser.feed(b"Event: Hangup\r\nChannel: PJSIP/10") == []
    assert parser.buffered > 0
    assert parser.feed(b"1-00000001\r\nCause: 16\r\n") == []
    frames = parser.feed(b"\r\n")
    assert frames == [Frame((("Event", "Hangup"), ("Channel", "PJSIP/101-00000001"), ("Cause", "16")))]


def test_lines_without_colon_are_counted_and_skipped() -> None:
    parser = FrameParser()
    frames = parser.feed(b"Event: Cdr\r\nthis is not a header\r\n: no name\r\nDisposition: ANSWERED\r\n\r\n")
    assert frames == [Frame((("Event", "Cdr"), ("Disposition", "ANSWERED")))]
    assert parser.stats.lines_without_colon == 2


def test_invalid_utf8_replaced_and_counted() -> None:
    parser = FrameParser()
    frames = parser.feed(b"Event: NewCallerid\r\nCallerIDName: \xff\xfe\xd0\r\n\r\n")
    assert len(frames) == 1 and isinstance(frames[0], Frame)
    assert frames[0].get("CallerIDName") == "\ufffd\ufffd\ufffd"
    assert parser.stats.decode_errors == 1


def test_utf8_names_decoded() -> None:
    frame = Frame.parse("Event: NewCallerid\r\nCallerIDName: Иванов И.\r\n\r\n".encode())
    assert frame.get("CallerIDName") == "Иванов И."


def test_binary_garbage_never_raises() -> None:
    parser = FrameParser()
    garbage = bytes(range(256)) * 64
    parser.feed(garbage)
    parser.feed(b"\r\n\r\n")
    frames = parser.feed(EVENT)
    assert frames and isinstance(frames[-1], Frame) and frames[-1].get("Event") == "VarSet"
    assert parser.stats.problems > 0


@pytest.mark.parametrize("chunk", [1 << 20, 4096])
def test_one_megabyte_line_is_dropped_with_bounded_memory(chunk: int) -> None:
    parser = FrameParser(max_line=64 * 1024)
    huge = b"Event: VarSet\r\nValue: " + b"x" * (1 << 20) + b"\r\nVariable: Y\r\n\r\n"
    frames: list[Frame | Banner] = []
    peak = 0
    for start in range(0, len(huge), chunk):
        frames.extend(parser.feed(huge[start:start + chunk]))
        peak = max(peak, parser.buffered)
    assert peak <= 64 * 1024 + chunk
    assert parser.stats.oversized_lines == 1
    assert frames == [Frame((("Event", "VarSet"), ("Variable", "Y")))]
    # The stream resynchronised: the next frame parses normally.
    assert parser.feed(EVENT)[0] == Frame.parse(EVENT)


def test_too_many_headers_truncates_the_frame() -> None:
    parser = FrameParser(max_headers=3)
    frames = parser.feed(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\nEvent: Next\r\n\r\n")
    assert frames[0] == Frame((("A", "1"), ("B", "2"), ("C", "3")))
    assert frames[1] == Frame((("Event", "Next"),))
    assert parser.stats.oversized_frames == 1


def test_reset_forgets_partial_input() -> None:
    parser = FrameParser()
    parser.feed(b"Event: Hangup\r\nChann")
    parser.reset()
    assert parser.buffered == 0
    assert parser.feed(EVENT) == [Frame.parse(EVENT)]


def test_real_capture_round_trips() -> None:
    data = (ASTERISK22 / "inbound_answered.ami").read_bytes()
    frames = [f for f in FrameParser().feed(data) if isinstance(f, Frame)]
    assert len(frames) == 117
    assert b"".join(bytes(f) for f in frames) == data


def test_serialize_action() -> None:
    data = serialize_action({
        "Action": "Originate", "Channel": "PJSIP/101", "Variable": ["C2C_SOURCE=crm", "CRM_ORDER_ID=10245"],
    })
    assert data == (b"Action: Originate\r\nChannel: PJSIP/101\r\n"
                    b"Variable: C2C_SOURCE=crm\r\nVariable: CRM_ORDER_ID=10245\r\n\r\n")
    assert Frame.parse(data).get_all("Variable") == ["C2C_SOURCE=crm", "CRM_ORDER_ID=10245"]


def test_serialize_action_refuses_header_injection() -> None:
    with pytest.raises(ValueError):
        serialize_action({"Action": "Originate", "CallerID": "x\r\nAction: Command"})

"""The AMI throughput benchmark still runs and counts right; and the parser's fast path changes nothing.

Timings are figures for BENCHMARKS.md, never assertions here. cacofonisk is a benchmark-only
dependency: the peer test is skipped where it is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from typing import Any

import pytest

from bench import ami_throughput
from pbx_bridge.ami_frames import DEFAULT_MAX_HEADERS, DEFAULT_MAX_LINE, Banner, Frame, FrameParser
from tests.tracker_helpers import (
    ASTERISK22,
    CACOFONISK,
    CACOFONISK_SETTINGS,
    cacofonisk_events,
    capture_events,
    replay,
)

CAPTURE = "inbound_answered"


def _event_blocks(wire: bytes) -> int:
    """Frames that are events, counted without the parser: blocks whose first line is ``Event: ...``."""
    return sum(1 for block in wire.split(b"\r\n\r\n") if block.startswith(b"Event: "))


def test_measure_one_capture_counts_events_and_facts() -> None:
    workload = ami_throughput.asterisk22_workload([CAPTURE])
    wire = (ASTERISK22 / f"{CAPTURE}.ami").read_bytes()
    assert workload.events == _event_blocks(wire) == len(workload.records) == 116
    assert workload.facts == len(replay(capture_events(CAPTURE))) == 5

    result = ami_throughput.measure(workload, iterations=2, rounds=1, chunk=4096, peer=False)
    assert (result["events"], result["facts"], result["rounds"], result["iterations"]) == (232, 10, 1, 2)
    assert result["tracker_handled_events"] == 2 * sum(
        1 for r in workload.records if r["Event"] in {"Newchannel", "Newstate", "NewCallerid", "DialBegin", "DialEnd",
                                                      "BridgeEnter", "BridgeLeave", "Hangup", "HangupRequest",
                                                      "SoftHangupRequest", "VarSet", "FullyBooted", "Newexten", "Cdr"})
    for key in ("events_per_s", "dict_events_per_s", "filtered_dict_events_per_s"):
        assert isinstance(result[key], int) and result[key] > 0, key
    assert "peer_events_per_s" not in result


def test_cacofonisk_stream_as_bytes_gives_the_same_facts() -> None:
    relative = "simple/ab_success_a_hangup.json"
    workload = ami_throughput.cacofonisk_workload([relative])
    recorded = json.loads((CACOFONISK / relative).read_text(encoding="utf-8"))
    assert workload.events == len(recorded) == 47  # it opens with FullyBooted: nothing added
    assert workload.facts == len(replay(cacofonisk_events(relative), CACOFONISK_SETTINGS))
    result = ami_throughput.measure(workload, iterations=1, rounds=1, peer=False)
    assert result["events"] == 47 and result["events_per_s"] > 0


@pytest.mark.skipif(importlib.util.find_spec("cacofonisk") is None, reason="cacofonisk (bench-only) not installed")
def test_peer_runs_on_the_same_stream() -> None:
    workload = ami_throughput.asterisk22_workload([CAPTURE])
    result = ami_throughput.measure(workload, iterations=1, rounds=1, peer=True)
    assert result["peer_reports"] == 3  # on_b_dial, on_up, on_hangup
    handlers: Any = importlib.import_module("cacofonisk.handlers")
    names = handlers.EventHandler.event_handlers()
    assert result["peer_handled_events"] == sum(1 for r in workload.records if r["Event"] in names)
    for key in ("peer_events_per_s", "peer_dict_events_per_s", "ratio_vs_peer", "dict_ratio_vs_peer"):
        assert result[key] > 0, key
    assert ami_throughput.peer_version() == "0.7.10"


class _CarefulParser(FrameParser):
    """The parser with its fast path switched off: the line-by-line reference."""

    def _feed_lines(self, last: int, out: list[Frame | Banner]) -> bool:
        return False


def _parse(parser: FrameParser, data: bytes, size: int) -> list[Frame | Banner]:
    items: list[Frame | Banner] = []
    for start in range(0, len(data), size):
        items.extend(parser.feed(data[start:start + size]))
    return items


HOSTILE = (
    b"Asterisk Call Manager/11.0.0\r\n"
    b"Event: VarSet\r\nValue: a: b\r\nNoSpace:x\r\n  Padded  : y\r\n: nameless\r\nno colon\r\n\r\n"
    b"Event: Bad\r\nCallerIDName: \xff\xfe\r\n\r\n"  # invalid UTF-8
    b"Event: Lf\nKey: v\n\n"  # bare LF
    b"Event: Cr\r\nKey: v\r\r\n \t \r\n"  # an extra CR, a whitespace-only line ends the frame
    b"Event: Nbsp\r\nKey: \xc2\xa0\r\n\xc2\xa0\r\n\r\n"  # U+00A0 alone is not a blank line for bytes.strip()
    b"Event: Long\r\nBig: " + b"z" * 300 + b"\r\nAfter: 1\r\n\r\n"
    + b"Event: Many\r\n" + b"".join(b"H%d: %d\r\n" % (i, i) for i in range(40)) + b"\r\n"
    + b"Event: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\r\n\r\nAsterisk Call Manager/2.0\r\n"
)


@pytest.mark.parametrize("size", [1, 3, 64, 4096, 1 << 20])
def test_fast_path_gives_what_the_careful_path_gives(size: int) -> None:
    captures = b"".join(p.read_bytes() for p in sorted(ASTERISK22.glob("*.ami")))
    for data, max_line, max_headers in ((captures, DEFAULT_MAX_LINE, DEFAULT_MAX_HEADERS), (HOSTILE, 120, 25)):
        fast = FrameParser(max_line=max_line, max_headers=max_headers)
        careful = _CarefulParser(max_line=max_line, max_headers=max_headers)
        assert _parse(fast, data, size) == _parse(careful, data, size)
        assert fast.stats == careful.stats
        assert fast.buffered == careful.buffered
    assert careful.stats.problems > 0 and careful.stats.banners == 2

"""Shared helpers for the AMI parser and call tracker tests: fixture paths and replays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import FrameParser
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.tracker_state import TrackerSettings

FIXTURES = Path(__file__).parent / "fixtures"
ASTERISK22 = FIXTURES / "asterisk-22"
CACOFONISK = FIXTURES / "cacofonisk"

#: cacofonisk's accounts are 9-digit SIP peers (``SIP/150010001-...``); the trunk is ``SIP/voipgrid-*``.
CACOFONISK_SETTINGS = TrackerSettings(operator_endpoint_pattern=r"\d{9}")


def capture_names() -> list[str]:
    return sorted(p.stem for p in ASTERISK22.glob("*.ami"))


def sidecar(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ASTERISK22 / f"{name}.json").read_text(encoding="utf-8"))
    return data


def capture_events(name: str, chunk: int = 0) -> list[ev.AmiEvent]:
    """A capture's bytes through the frame parser (in ``chunk``-byte pieces, 0 = at once) to events."""
    data = (ASTERISK22 / f"{name}.ami").read_bytes()
    parser = FrameParser()
    items: list[object] = []
    if chunk <= 0:
        items.extend(parser.feed(data))
    else:
        for start in range(0, len(data), chunk):
            items.extend(parser.feed(data[start:start + chunk]))
    assert parser.stats.problems == 0
    assert parser.buffered == 0
    return ev.events_from_frames(items)


def cacofonisk_events(relative: str) -> list[ev.AmiEvent]:
    records = json.loads((CACOFONISK / relative).read_text(encoding="utf-8"))
    assert isinstance(records, list)
    return ev.events_from_dicts(records)


def replay(events: list[ev.AmiEvent], settings: TrackerSettings | None = None) -> list[cf.CallFact]:
    return CallTracker(settings).feed_all(events)


def only(facts: list[cf.CallFact], kind: type[cf.Fact]) -> list[Any]:
    return [fact for fact in facts if type(fact) is kind]


def the_end(facts: list[cf.CallFact]) -> cf.CallEnded:
    ended = only(facts, cf.CallEnded)
    assert len(ended) == 1, ended
    result = ended[0]
    assert isinstance(result, cf.CallEnded)
    return result


def the_start(facts: list[cf.CallFact]) -> cf.CallStarted:
    started = only(facts, cf.CallStarted)
    assert len(started) == 1, started
    result = started[0]
    assert isinstance(result, cf.CallStarted)
    return result


class ListSink:
    """A :class:`~pbx_bridge.call_facts.CallFactSink` that keeps what it is given."""

    def __init__(self) -> None:
        self.facts: list[cf.CallFact] = []

    def on_fact(self, fact: cf.CallFact) -> None:
        self.facts.append(fact)

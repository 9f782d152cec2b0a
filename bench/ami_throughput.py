"""Benchmark: AMI events per second through the pure PBX-bridge pipeline, side by side with cacofonisk.

Our pipeline is bytes -> :class:`~pbx_bridge.ami_frames.FrameParser` -> typed events -> :class:`CallTracker`
-> call facts. The peer is cacofonisk (the event handler the issue names), which never sees bytes: its
own AMI runner gets events from panoramisk as dicts. So three of our figures are measured on the same
event streams, one core, captures replayed in a loop:

* ``events_per_s``: ours, bytes (read in ``--chunk``-byte pieces, 4 KiB like a socket read) -> facts;
* ``dict_events_per_s``: ours, event dicts -> :func:`event_from_dict` -> tracker -> facts;
* ``peer_events_per_s``: panoramisk's ``AMIProtocol.data_received`` on the same byte chunks ->
  its event dispatch -> cacofonisk, i.e. the peer's own bytes -> reports path, the same pipeline
  shape as ours (what the issue's "same stream through cacofonisk" means);
* ``peer_dict_events_per_s``: cacofonisk alone, event dicts -> ``EventHandler.on_event`` (its
  FileRunner's name filter included) -> a counting no-op reporter.

``ratio_vs_peer`` is our bytes path / the peer's bytes path (both end to end from the wire).
``dict_ratio_vs_peer`` is our dict path / cacofonisk's dict path: the trackers alone, where cacofonisk,
which skips most events with one dict lookup, is faster; BENCHMARKS.md says why.

Workloads: every real Asterisk 22 capture (``tests/fixtures/asterisk-22/*.ami``) concatenated; and
cacofonisk's own recorded streams (``tests/fixtures/cacofonisk``, serialised to AMI bytes for our bytes
path). Each capture starts with ``FullyBooted`` (one is added to cacofonisk recordings that lack it),
which resets both trackers, and every call in it ends, so each loop iteration is real work; the fact
and report counts of every round are checked against a single reference pass. Run from the repo root:

    .venv/bin/python bench/ami_throughput.py            # a few minutes
    .venv/bin/python bench/ami_throughput.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `pbx_bridge` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stats import emit_json, machine_info, pin_to_one_cpu  # noqa: E402
from pbx_bridge.ami_events import event_from_dict, event_from_frame  # noqa: E402
from pbx_bridge.ami_frames import Frame, FrameParser  # noqa: E402
from pbx_bridge.call_tracker import CallTracker  # noqa: E402
from pbx_bridge.tracker_state import TrackerSettings  # noqa: E402

log = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
ASTERISK22 = FIXTURES / "asterisk-22"
CACOFONISK = FIXTURES / "cacofonisk"
#: cacofonisk's operators are 9-digit SIP peers (``SIP/150010001-...``), as in tests/tracker_helpers.py.
CACOFONISK_SETTINGS = TrackerSettings(operator_endpoint_pattern=r"\d{9}")
DEFAULT_CHUNK = 4096
_FULLY_BOOTED = {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted", "content": ""}

Record = dict[str, str]


@dataclass(frozen=True)
class Workload:
    """One loop iteration's input, as AMI bytes and as event dicts, with its reference counts."""

    name: str
    wire: bytes
    records: tuple[Record, ...]
    settings: TrackerSettings
    events: int
    facts: int


@dataclass(frozen=True)
class Count:
    events: int
    outputs: int  # facts for ours, reports for the peer


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[start:start + size] for start in range(0, len(data), size)] if size > 0 else [data]


def asterisk22_workload(names: Sequence[str] | None = None) -> Workload:
    """The real Asterisk 22 captures (all, or the named ones) concatenated; dicts are each frame's first values."""
    paths = sorted(ASTERISK22.glob("*.ami")) if names is None else [ASTERISK22 / f"{n}.ami" for n in names]
    wire = b"".join(path.read_bytes() for path in paths)
    records = tuple(item.first_values() for item in FrameParser().feed(wire)
                    if isinstance(item, Frame) and item.get("Event") is not None)
    return _workload("asterisk-22", wire, records, TrackerSettings())


def cacofonisk_workload(relative: Sequence[str] | None = None) -> Workload:
    """cacofonisk's recorded streams concatenated (each opened by a FullyBooted), and as AMI wire bytes."""
    paths = sorted(CACOFONISK.glob("*/*.json")) if relative is None else [CACOFONISK / r for r in relative]
    records: list[Record] = []
    for path in paths:
        stream = json.loads(path.read_text(encoding="utf-8"))
        if not stream or stream[0].get("Event") != "FullyBooted":
            records.append(dict(_FULLY_BOOTED))
        records.extend({str(k): str(v) for k, v in item.items()} for item in stream)
    wire = b"".join(bytes(Frame.from_pairs((k, v) for k, v in r.items() if k != "content")) for r in records)
    return _workload("cacofonisk", wire, tuple(records), CACOFONISK_SETTINGS)


def _workload(name: str, wire: bytes, records: tuple[Record, ...], settings: TrackerSettings) -> Workload:
    reference = run_ours_bytes([wire], settings)
    by_dict = run_ours_dicts(records, settings)
    if (reference.events, reference.outputs) != (len(records), by_dict.outputs):
        raise RuntimeError(f"{name}: bytes and dict paths disagree: {reference} vs {by_dict} ({len(records)} dicts)")
    return Workload(name=name, wire=wire, records=records, settings=settings,
                    events=reference.events, facts=reference.outputs)


# --- the measured paths -------------------------------------------------------------------------


def run_ours_bytes(chunks: Sequence[bytes], settings: TrackerSettings) -> Count:
    """Bytes -> frames -> typed events -> tracker, as the bridge's reader loop does it."""
    parser = FrameParser()
    feed = CallTracker(settings).feed
    events = facts = 0
    for chunk in chunks:
        for item in parser.feed(chunk):
            if isinstance(item, Frame):
                event = event_from_frame(item)
                if event is not None:
                    events += 1
                    facts += len(feed(event))
    return Count(events, facts)


def run_ours_dicts(records: Sequence[Record], settings: TrackerSettings) -> Count:
    """Event dicts -> typed events -> tracker: the input cacofonisk gets, for a like-for-like ratio."""
    feed = CallTracker(settings).feed
    events = facts = 0
    for record in records:
        event = event_from_dict(record)
        if event is not None:
            events += 1
            facts += len(feed(event))
    return Count(events, facts)


def run_ours_dicts_filtered(records: Sequence[Record], settings: TrackerSettings) -> Count:
    """As :func:`run_ours_dicts`, but skipping events the tracker has no handler for, by name, before
    decoding: the same rule cacofonisk's runners apply to it (FileRunner's name check, AmiRunner's
    per-name subscription)."""
    tracker = CallTracker(settings)
    wanted = tracker.event_names
    feed = tracker.feed
    events = facts = 0
    for record in records:
        if record.get("Event") in wanted:
            event = event_from_dict(record)
            if event is not None:
                events += 1
                facts += len(feed(event))
    return Count(events, facts)


class CountingReporter:
    """cacofonisk's reporter interface (``BaseReporter``'s methods), doing nothing but count reports."""

    def __init__(self) -> None:
        self.reports = 0
        self.timestamp: object = None

    def set_timestamp(self, timestamp: object) -> None:
        self.timestamp = timestamp

    def close(self) -> None:
        pass

    def on_event(self, event: object) -> None:
        pass

    def _report(self, *args: object, **kwargs: object) -> None:
        self.reports += 1

    on_b_dial = on_up = on_hangup = on_queue_caller_abandon = _report
    on_attended_transfer = on_blonde_transfer = on_blind_transfer = on_user_event = _report


def peer_version() -> str | None:
    """cacofonisk's installed version, or None when it is not installed (it is a benchmark-only dependency)."""
    try:
        return importlib.metadata.version("cacofonisk")
    except importlib.metadata.PackageNotFoundError:
        return None


def run_peer_dicts(records: Sequence[Record]) -> Count:
    """cacofonisk's EventHandler on event dicts, filtered by its handler table exactly as its FileRunner does."""
    handlers: Any = importlib.import_module("cacofonisk.handlers")
    reporter = CountingReporter()
    handler = handlers.EventHandler(reporter=reporter)
    interesting = handler.event_handlers().keys()
    on_event = handler.on_event
    dispatched = 0
    for record in records:
        if record["Event"] in interesting:
            dispatched += 1
            on_event(record)
    return Count(dispatched, reporter.reports)


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def run_peer_bytes(chunks: Sequence[bytes]) -> Count:
    """panoramisk's protocol parses the bytes and dispatches events to cacofonisk, as cacofonisk's AmiRunner wires it.

    No socket and no event loop: ``data_received`` is called with each chunk. The manager's own
    FullyBooted callback (a coroutine that resends queued actions after a reconnect) is left out.
    """
    handlers: Any = importlib.import_module("cacofonisk.handlers")
    panoramisk: Any = importlib.import_module("panoramisk")
    protocol_module: Any = importlib.import_module("panoramisk.ami_protocol")
    reporter = CountingReporter()
    handler = handlers.EventHandler(reporter=reporter)
    manager = panoramisk.Manager(encoding="utf8")
    manager.callbacks.clear()
    manager.patterns.clear()
    events = 0

    def on_event(_manager: object, event: object) -> None:
        nonlocal events
        events += 1
        handler.on_event(event)

    for name in handler.event_handlers():
        manager.register_event(name, on_event)
    protocol = protocol_module.AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.factory = manager
    protocol.encoding = "utf8"
    for chunk in chunks:
        protocol.data_received(chunk)
    return Count(events, reporter.reports)


# --- measurement ----------------------------------------------------------------------------------


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """Both sides log while they work; drop the records so the figures measure parsing, not stderr."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _timed(call: Callable[[], Count]) -> tuple[float, float, Count]:
    """Wall time (the figure) and this process's CPU time (to tell a busy machine from a slow path)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    count = call()
    return time.perf_counter() - start, time.process_time() - cpu_start, count


def measure(workload: Workload, *, iterations: int, rounds: int, chunk: int = DEFAULT_CHUNK,
            peer: bool = True) -> dict[str, Any]:
    """Median events/s of each path over `rounds` rounds of `iterations` loops of the workload.

    The paths take turns inside each round, so a slow spell of the machine hits all of them.
    Raises RuntimeError if any round's counts differ from the reference pass.
    """
    chunks = _chunks(workload.wire * iterations, chunk)
    records = list(workload.records) * iterations
    expected_events = workload.events * iterations
    paths: dict[str, Callable[[], Count]] = {
        "ours_bytes": lambda: run_ours_bytes(chunks, workload.settings),
        "ours_dicts": lambda: run_ours_dicts(records, workload.settings),
        "ours_filtered": lambda: run_ours_dicts_filtered(records, workload.settings),
    }
    filtered_reference = run_ours_dicts_filtered(workload.records, workload.settings)
    peer_reference = Count(0, 0)
    if peer:
        with _quiet_logging():
            peer_reference = run_peer_dicts(workload.records)
        paths["peer_dicts"] = lambda: run_peer_dicts(records)
        paths["peer_bytes"] = lambda: run_peer_bytes(chunks)
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in paths}
    with _quiet_logging():
        for call in paths.values():  # warm-up, untimed: imports, caches, allocator
            call()
        for _ in range(rounds):
            for name, call in paths.items():
                elapsed, cpu, count = _timed(call)
                if name == "ours_filtered":  # the same facts from fewer events
                    expected = Count(filtered_reference.events * iterations, workload.facts * iterations)
                elif name.startswith("ours"):
                    expected = Count(expected_events, workload.facts * iterations)
                else:  # the peer sees only the events its handler table names, as in production
                    expected = Count(peer_reference.events * iterations, peer_reference.outputs * iterations)
                if count != expected:
                    raise RuntimeError(f"{workload.name} {name}: got {count}, expected {expected}")
                seconds[name].append(elapsed)
                cpu_seconds[name].append(cpu)
    rate = {name: expected_events / statistics.median(values) for name, values in seconds.items()}
    result: dict[str, Any] = {
        "workload": workload.name, "events": expected_events, "facts": workload.facts * iterations,
        "bytes": len(workload.wire) * iterations, "iterations": iterations, "rounds": rounds, "chunk_bytes": chunk,
        "events_per_s": round(rate["ours_bytes"]), "dict_events_per_s": round(rate["ours_dicts"]),
        "filtered_dict_events_per_s": round(rate["ours_filtered"]),
        "tracker_handled_events": filtered_reference.events * iterations,
        "round_seconds": {name: [round(s, 4) for s in values] for name, values in seconds.items()},
        "cpu_time_events_per_s": {name: round(expected_events / statistics.median(values))
                                  for name, values in cpu_seconds.items()},
    }
    if peer:
        result.update({
            "peer_reports": peer_reference.outputs * iterations,
            "peer_handled_events": peer_reference.events * iterations,
            "peer_events_per_s": round(rate["peer_bytes"]), "peer_dict_events_per_s": round(rate["peer_dicts"]),
            "ratio_vs_peer": round(rate["ours_bytes"] / rate["peer_bytes"], 2),
            "dict_ratio_vs_peer": round(rate["ours_dicts"] / rate["peer_dicts"], 2),
            "filtered_dict_ratio_vs_peer": round(rate["ours_filtered"] / rate["peer_dicts"], 2),
        })
    return result


def _print_table(result: dict[str, Any]) -> None:
    print(f"\n{result['workload']}: {result['events']} events ({result['bytes']} bytes, "
          f"{result['iterations']} loops) per round, {result['rounds']} rounds, {result['chunk_bytes']}-byte chunks")
    print(f"  ours  bytes -> facts        {result['events_per_s']:>10,} events/s")
    print(f"  ours  dicts -> facts        {result['dict_events_per_s']:>10,} events/s  (every event decoded)")
    print(f"  ours  dicts, name-filtered  {result['filtered_dict_events_per_s']:>10,} events/s  "
          f"(tracker's {result['tracker_handled_events']:,} events decoded)")
    if "peer_events_per_s" in result:
        print(f"  panoramisk+cacofonisk bytes {result['peer_events_per_s']:>10,} events/s")
        print(f"  cacofonisk dicts -> reports {result['peer_dict_events_per_s']:>10,} events/s  "
              f"(its {result['peer_handled_events']:,} events handled)")
        print(f"  ratio bytes (ours/peer)     {result['ratio_vs_peer']:>10}x")
        print(f"  ratio dicts (ours/peer)     {result['dict_ratio_vs_peer']:>10}x")
        print(f"  ratio filtered dicts        {result['filtered_dict_ratio_vs_peer']:>10}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer loops and rounds: under a minute")
    parser.add_argument("--iterations", type=int, help="loops over the captures per round")
    parser.add_argument("--rounds", type=int, help="timed rounds; the median is reported")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="bytes per parser feed (0: all at once)")
    parser.add_argument("--cpu", type=int, help="CPU to pin to (default: the highest one allowed)")
    parser.add_argument("--no-peer", action="store_true", help="measure only ours (cacofonisk not needed)")
    args = parser.parse_args(argv)
    iterations = args.iterations or (10 if args.quick else 20)
    rounds = args.rounds or (5 if args.quick else 7)
    version = None if args.no_peer else peer_version()
    if not args.no_peer and version is None:
        print("cacofonisk is not installed (pip install cacofonisk==0.7.10): measuring ours only", file=sys.stderr)
    cpu = pin_to_one_cpu(args.cpu)
    print(f"pinned to CPU {cpu}" if cpu is not None else "CPU pinning not available")

    started = time.perf_counter()
    main_result = measure(asterisk22_workload(), iterations=iterations, rounds=rounds, chunk=args.chunk,
                          peer=version is not None)
    _print_table(main_result)
    caco_result = measure(cacofonisk_workload(), iterations=iterations, rounds=rounds, chunk=args.chunk,
                          peer=version is not None)
    _print_table(caco_result)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")

    summary = {key: main_result.get(key) for key in (
        "events_per_s", "dict_events_per_s", "filtered_dict_events_per_s", "peer_events_per_s",
        "peer_dict_events_per_s", "ratio_vs_peer", "dict_ratio_vs_peer", "filtered_dict_ratio_vs_peer",
        "events", "facts", "rounds", "iterations", "chunk_bytes")}
    summary.update({
        "peer": f"cacofonisk {version}" if version else None,
        "cpu_pinned": cpu, "machine": machine_info(), "quick": args.quick,
        "cpu_time_events_per_s": main_result["cpu_time_events_per_s"],
        "cacofonisk_stream": {key: value for key, value in caco_result.items() if key != "round_seconds"},
    })
    emit_json(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

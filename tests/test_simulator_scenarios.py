"""Simulator scenarios beyond the captured ones, the driver's call mix, and the settings' declaration."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import Frame, FrameParser
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.simulator import Simulator, SimulatorSettings
from pbx_bridge.simulator.catalog import SCENARIOS
from pbx_bridge.simulator.clock import FastClock
from pbx_bridge.simulator.driver import CallDriver, DriverConfig
from pbx_bridge.simulator.scenarios import CallParams
from tests.simulator_helpers import frames_of, simulate, used
from web.config import build

START = 1795400000.5


def _facts(data: bytes) -> list[cf.CallFact]:
    return CallTracker().feed_all(ev.events_from_frames(FrameParser().feed(data)))


def _end(facts: list[cf.CallFact]) -> cf.CallEnded:
    (end,) = [f for f in facts if isinstance(f, cf.CallEnded)]
    return end


@pytest.mark.parametrize(("scenario", "params", "expected"), [
    # After the queue's timeout the dialplan's voicemail answers; the customer hangs up there (as on the real Asterisk).
    ("queue_timeout", CallParams(customer="79161110030", extensions=("101", "102"), ring_s=30),
     (cf.Outcome.MISSED, cf.MissedReason.QUEUE_TIMEOUT, None, cf.HungUpBy.CUSTOMER)),
    ("queue_answered", CallParams(customer="79161110031", extensions=("101", "102", "103"), answering="101",
                                  operator_hangs_up=True),
     (cf.Outcome.ANSWERED, None, "101", cf.HungUpBy.OPERATOR)),
    ("inbound_ringall", CallParams(customer="79161110032", extensions=("101", "102", "103"), answering="103"),
     (cf.Outcome.ANSWERED, None, "103", cf.HungUpBy.CUSTOMER)),
    ("inbound_failover", CallParams(customer="79161110033", extensions=("103", "101", "102"), first_ring_s=10,
                                    operator_hangs_up=True),
     (cf.Outcome.ANSWERED, None, "102", cf.HungUpBy.OPERATOR)),
    ("outbound_from_operator", CallParams(customer="79161110034", extensions=("102",)),
     (cf.Outcome.ANSWERED, None, "79161110034", cf.HungUpBy.CUSTOMER)),
])
async def test_more_scenarios_reach_their_outcome(scenario: str, params: CallParams,
                                                  expected: tuple[object, ...]) -> None:
    end = _end(_facts(await simulate(scenario, params, START)))
    assert (end.outcome, end.reason, end.answered_by, end.hung_up_by) == expected


async def test_timestamps_follow_the_scenario_durations() -> None:
    params = CallParams(customer="79161110035", ring_s=7.5, talk_s=42)
    frames = used(frames_of(await simulate("inbound_answered", params, START)))
    times = [float(h["Timestamp"]) for h in frames]
    assert times == sorted(times) and times[0] == pytest.approx(START, abs=0.01)
    begin = next(float(h["Timestamp"]) for h in frames if h["Event"] == "DialBegin")
    answer = next(float(h["Timestamp"]) for h in frames if h["Event"] == "DialEnd")
    hangup = next(float(h["Timestamp"]) for h in frames if h["Event"] == "HangupRequest")
    assert answer - begin == pytest.approx(7.5, abs=0.01) and hangup - answer == pytest.approx(42, abs=0.01)
    end = _end(_facts(await simulate("inbound_answered", params, START)))
    assert end.ring_s == pytest.approx(7.5, abs=0.02) and end.talk_s == pytest.approx(42, abs=0.02)


def _driver(seed: int, known: tuple[str, ...] = ()) -> CallDriver:
    config = DriverConfig(extensions=("101", "102", "103"), dids=("74951234501", "74951234502"), known_phones=known)
    return CallDriver(config, random.Random(seed), FastClock(START), lambda name, params: None, lambda: 0)


def test_driver_mix_is_seeded_realistic_and_uses_known_phones() -> None:
    known = ("79160000001", "79160000002")
    first, second = _driver(5, known), _driver(5, known)
    calls = [first.next_call() for _ in range(300)]
    assert calls == [second.next_call() for _ in range(300)]
    assert calls != [_driver(6, known).next_call() for _ in range(300)]

    scenarios = Counter(name for name, _ in calls)
    assert set(scenarios) == set(SCENARIOS)
    assert scenarios.most_common(1)[0][0] == "inbound_answered"
    customers = Counter(params.customer for _, params in calls)
    assert set(known) <= set(customers)
    assert any(count > 1 for number, count in customers.items() if number not in known)  # repeat callers
    for name, params in calls:
        assert set(params.extensions) <= {"101", "102", "103"} and params.winner in params.extensions
        if name in ("inbound_ringall", "inbound_failover", "queue_answered"):
            assert len(params.extensions) >= 2


async def test_driver_runs_calls_through_the_simulator_to_the_tracker() -> None:
    settings = SimulatorSettings(ami_port=0, calls_per_minute=30, seed=11, max_concurrent_calls=1000,
                                 extensions="101,102,103,104", known_phones="79160000001")
    simulator = Simulator(settings, clock=FastClock(START))
    tracker = CallTracker()
    facts: list[cf.CallFact] = []

    def on_frame(frame: Frame) -> None:
        for event in ev.events_from_frames([frame]):
            facts.extend(tracker.feed(event))

    simulator.core.subscribe(on_frame)
    await simulator.start(drive=False)
    await simulator.driver.run(max_calls=40)
    await simulator.wait_calls()
    await simulator.stop()
    ended = [f for f in facts if isinstance(f, cf.CallEnded)]
    assert len(ended) == 40 and len({f.call_id for f in ended}) == 40
    assert tracker.live_call_ids == [] and simulator.core.live_channels() == []
    assert {f.outcome for f in ended} == {cf.Outcome.ANSWERED, cf.Outcome.MISSED}
    assert tracker.stats.unknown_channel_events == 0


def test_settings_are_declared_like_every_package() -> None:
    fields = dataclasses.fields(SimulatorSettings)
    assert all(f.metadata["env"].startswith("PEREZVON_SIM_") and f.metadata["help"] for f in fields)
    settings = build(SimulatorSettings, {"PEREZVON_SIM_AMI_PORT": "0", "PEREZVON_SIM_EXTENSIONS": "201, 202",
                                         "PEREZVON_SIM_SEED": "3", "PEREZVON_SIM_CALLS_PER_MINUTE": "6.5"})
    assert (settings.ami_port, settings.extension_list, settings.seed, settings.calls_per_minute) == (
        0, ("201", "202"), 3, 6.5)
    defaults = SimulatorSettings()
    assert defaults.ami_host == "127.0.0.1" and defaults.ami_port != 5038 and defaults.seed is None

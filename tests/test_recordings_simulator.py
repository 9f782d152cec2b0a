"""The PBX simulator leaves recordings as the dialplan's MixMonitor(...,b) and (....raw,bD) do: the talk time for
answered calls (mixed, and both sides as interleaved stereo), a bare header and an empty stream for unanswered
ones, named by the Linkedid; and the registration takes them."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from pbx_bridge.simulator import Simulator, SimulatorSettings
from pbx_bridge.simulator.clock import FastClock
from pbx_bridge.simulator.scenarios import CallParams
from recordings.wav_check import Verdict, inspect_bytes

START = 1795345255.3


async def _play(tmp_path: Path, scenario: str, params: CallParams) -> dict[str, bytes]:
    simulator = Simulator(SimulatorSettings(ami_port=0, calls_per_minute=0, recordings_dir=tmp_path / "rec"),
                          clock=FastClock(START))
    await simulator.start(drive=False)
    try:
        await simulator.start_call(scenario, params)
    finally:
        await simulator.stop()
    assert simulator.recordings is not None and simulator.recordings.written == 1
    return {p.name: p.read_bytes() for p in (tmp_path / "rec").iterdir()}


@pytest.mark.parametrize("scenario", ["inbound_answered", "outbound_from_operator", "inbound_blind_transfer"])
async def test_an_answered_call_holds_its_talk_time(tmp_path: Path, scenario: str) -> None:
    files = await _play(tmp_path, scenario, CallParams(customer="79161110001", extensions=("101", "102"),
                                                      talk_s=7.5, transfer_after_s=2.0, colleague="102"))
    [(name, data), (raw_name, raw)] = sorted(files.items(), key=lambda item: item[0].endswith(".raw"))
    assert name.endswith(".wav") and name.startswith("1795345255.") and raw_name == name[:-4] + ".raw"
    assert len(raw) == 4 * int(len(data[44:]) / 2)  # the same frames, two channels
    result = inspect_bytes(data, len(data))
    assert result.verdict is Verdict.OK and result.info is not None
    assert (result.info.sample_rate, result.info.channels, result.info.bits_per_sample) == (8000, 1, 16)
    # Only while bridged (option b): a blind transfer's ringing of the colleague is not in the file.
    assert result.info.duration_s == pytest.approx(7.5, abs=1.0 if "transfer" in scenario else 0.1)
    with wave.open(str(tmp_path / "rec" / name)) as reader:
        assert reader.getnframes() == result.info.frames


@pytest.mark.parametrize("scenario", ["inbound_no_answer", "inbound_busy", "queue_abandoned"])
async def test_an_unanswered_call_leaves_the_bare_header(tmp_path: Path, scenario: str) -> None:
    files = await _play(tmp_path, scenario, CallParams(customer="79161110002", extensions=("101",), ring_s=4.0))
    data, raw = (files[n] for n in sorted(files, key=lambda name: name.endswith(".raw")))
    assert len(data) == 44 and inspect_bytes(data, 44).verdict is Verdict.HEADER_ONLY
    assert raw == b""


async def test_no_directory_no_files(tmp_path: Path) -> None:
    simulator = Simulator(SimulatorSettings(ami_port=0, calls_per_minute=0), clock=FastClock(START))
    assert simulator.recordings is None

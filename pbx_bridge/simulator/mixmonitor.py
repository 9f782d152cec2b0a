"""Recording files as the dialplan's `MixMonitor(${RECORDINGS_DIR}/${CHANNEL(linkedid)}.wav,b)` and
`MixMonitor(....raw,bD)` leave them: the mixed WAV and both sides apart as raw interleaved stereo.

MixMonitor runs on the call's first channel (the customer's trunk channel inbound, the operator's
channel outbound and for click-to-call), so the file is named by that channel's Uniqueid, the call's
Linkedid. Option `b` records only while that channel is bridged: an answered call's file holds the talk
time, an unanswered call's is the 44-byte WAV header alone. The file appears when the channel hangs up
(MixMonitor closes it then); it is written under a dot-name and renamed, so a reader never sees half of it.

The audio is 8 kHz mono 16-bit signed linear, as Asterisk records a phone call: one of the Russian phrases in
`speech/` (so the demo's transcripts say something: an order number, «возврат», a promise to call back),
then a quiet noise floor with a short soft tone every three seconds, so a player has something to seek
through. Watching the simulated core's events keeps this beside the scenarios instead of inside each of them.
"""

from __future__ import annotations

import array
import asyncio
import logging
import math
import os
import random
import struct
import wave
import zlib
from pathlib import Path

from pbx_bridge.ami_frames import Frame

logger = logging.getLogger(__name__)

RATE = 8000
#: The repeated pattern: three seconds of noise, a 300 ms tone at its start.
PATTERN_S = 3
TONE_S = 0.3
TONE_HZ = 425.0
#: Longest file written (a runaway simulated call must not fill the disk).
MAX_TALK_S = 3600.0


def audio_pattern(rng: random.Random) -> bytes:
    samples = []
    for n in range(RATE * PATTERN_S):
        value = rng.randint(-120, 120)
        if n < RATE * TONE_S:
            value += int(2500 * math.sin(2 * math.pi * TONE_HZ * n / RATE))
        samples.append(value)
    return struct.pack(f"<{len(samples)}h", *samples)


SPEECH = Path(__file__).resolve().parent / "speech"


def speech_phrases() -> list[bytes]:
    """The phrases' samples (8 kHz mono 16-bit, as the files are); none when the folder is missing."""
    phrases = []
    for path in sorted(SPEECH.glob("*.wav")):
        with wave.open(str(path), "rb") as source:
            if (source.getframerate(), source.getnchannels(), source.getsampwidth()) == (RATE, 1, 2):
                phrases.append(source.readframes(source.getnframes()))
    return phrases


def write_recording(path: Path, talk_s: float, pattern: bytes, speech: bytes = b"") -> None:
    """`path` as MixMonitor leaves it: `talk_s` seconds of audio (0: the header only), `speech` first."""
    frames = int(max(0.0, min(talk_s, MAX_TALK_S)) * RATE)
    partial = path.with_name(f".{path.name}.part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        remaining = frames * 2
        spoken = speech[:remaining]
        out.writeframes(spoken)
        remaining -= len(spoken)
        while remaining > 0:
            chunk = pattern[:remaining]
            out.writeframes(chunk)
            remaining -= len(chunk)
    os.replace(partial, path)


def _mono(frames: int, pattern: bytes, speech: bytes = b"") -> array.array[int]:
    """`frames` samples: `speech` first, then the noise pattern repeated."""
    samples = array.array("h")
    samples.frombytes(speech[:frames * 2])
    loop = array.array("h")
    loop.frombytes(pattern)
    while len(samples) < frames:
        samples.extend(loop[:frames - len(samples)])
    return samples


def write_stereo_raw(path: Path, talk_s: float, pattern: bytes, speech: bytes = b"") -> None:
    """`path` as the dialplan's `MixMonitor(<L>.raw,bD)` leaves it: 16-bit 8 kHz, two interleaved channels, the
    recorded (customer's) channel first saying `speech`, the other the quiet line; nothing at all unanswered."""
    frames = int(max(0.0, min(talk_s, MAX_TALK_S)) * RATE)
    both = array.array("h", bytes(frames * 4))
    both[0::2] = _mono(frames, pattern, speech)
    both[1::2] = _mono(frames, pattern)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(both.tobytes())
    os.replace(partial, path)


class MixMonitorWriter:
    """Subscribed to the simulated core: tracks when each call's first channel is bridged, writes at its hang-up."""

    def __init__(self, directory: Path, rng: random.Random | None = None) -> None:
        self.directory = directory
        self._rng = rng or random.Random(0)
        self._pattern = audio_pattern(self._rng)
        self._phrases = speech_phrases()
        self._since: dict[str, float] = {}
        self._talk: dict[str, float] = {}
        self._writes: set[asyncio.Future[None]] = set()
        self.written = 0

    def on_frame(self, frame: Frame) -> None:
        uniqueid, linkedid = frame.get("Uniqueid"), frame.get("Linkedid")
        if not uniqueid or uniqueid != linkedid:
            return  # only the channel MixMonitor runs on
        event, at = frame.get("Event"), float(frame.get("Timestamp") or 0.0)
        if event == "BridgeEnter":
            self._since.setdefault(linkedid, at)
        elif event == "BridgeLeave":
            self._close_interval(linkedid, at)
        elif event == "Hangup":
            self._close_interval(linkedid, at)
            self._write(linkedid, self._talk.pop(linkedid, 0.0))

    def _close_interval(self, linkedid: str, at: float) -> None:
        since = self._since.pop(linkedid, None)
        if since is not None:
            self._talk[linkedid] = self._talk.get(linkedid, 0.0) + max(0.0, at - since)

    def _write(self, linkedid: str, talk_s: float) -> None:
        if "/" in linkedid or linkedid.startswith("."):
            return
        path = self.directory / f"{linkedid}.wav"
        future = asyncio.get_running_loop().run_in_executor(None, self._write_now, path, talk_s)
        self._writes.add(future)
        future.add_done_callback(self._done)

    def _write_now(self, path: Path, talk_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        speech = self._phrases[zlib.crc32(path.name.encode()) % len(self._phrases)] if self._phrases else b""
        write_recording(path, talk_s, self._pattern, speech)
        write_stereo_raw(path.with_suffix(".raw"), talk_s, self._pattern, speech)

    def _done(self, future: asyncio.Future[None]) -> None:
        self._writes.discard(future)
        if future.cancelled():
            return
        if future.exception() is not None:
            logger.error("simulated recording not written", exc_info=future.exception())
        else:
            self.written += 1

    async def drain(self) -> None:
        """Until every file started is written."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

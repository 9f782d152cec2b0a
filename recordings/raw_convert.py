"""MixMonitor's option D: both directions interleaved as a two-channel raw stream, made a WAV.

With `D`, MixMonitor does not mix: it writes the audio coming from the channel and the audio going to it
as the two channels of one stream. Asterisk writes only raw formats that way; `.raw` is its signed linear
format (format_sln: 16-bit samples in the machine's byte order, little-endian on every PBX we run on,
8000 Hz). First channel: what the channel MixMonitor runs on receives from its far end; second: what is
sent to it. The conversion keeps every whole frame and says how many bytes were left over (a partial
frame at the end of a file cut short).
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

from recordings.storage import open_regular

RAW_RATE = 8000
RAW_CHANNELS = 2
RAW_SAMPLE_BYTES = 2
FRAME_BYTES = RAW_CHANNELS * RAW_SAMPLE_BYTES
CHUNK_FRAMES = 64 * 1024


@dataclass(frozen=True)
class RawConversion:
    frames: int
    #: Bytes at the end that made no whole frame (not audio: dropped).
    leftover: int

    @property
    def duration_s(self) -> float:
        return self.frames / RAW_RATE


def raw_size(source: Path) -> int:
    fd = open_regular(source)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def raw_to_wav(source: Path, target: Path) -> RawConversion:
    """Write `target` (a new file: never an existing one) as a 2-channel 16-bit 8 kHz WAV of `source`."""
    fd = open_regular(source)
    frames = 0
    try:
        size = os.fstat(fd).st_size
        whole = size - size % FRAME_BYTES
        with open(target, "xb") as out, wave.open(out, "wb") as writer:
            writer.setnchannels(RAW_CHANNELS)
            writer.setsampwidth(RAW_SAMPLE_BYTES)
            writer.setframerate(RAW_RATE)
            offset = 0
            while offset < whole:
                chunk = os.pread(fd, min(CHUNK_FRAMES * FRAME_BYTES, whole - offset), offset)
                if not chunk:
                    break
                chunk = chunk[:len(chunk) - len(chunk) % FRAME_BYTES]
                writer.writeframesraw(chunk)
                offset += len(chunk)
                frames += len(chunk) // FRAME_BYTES
        with open(target, "rb+") as done:
            os.fsync(done.fileno())
    finally:
        os.close(fd)
    return RawConversion(frames=frames, leftover=size - frames * FRAME_BYTES)

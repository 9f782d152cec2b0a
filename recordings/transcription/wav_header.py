"""The structure of a RIFF/WAVE file, checked before decoding: a truncated WAV is an error, not less audio.

Audio decoders read a WAV whose header promises more bytes than the file has as if it were complete,
and give the part that is there. For call recordings that hides a real problem (a copy cut short, a
disk that filled up, Asterisk killed mid-call), so the chunk sizes are checked here first. Pure
parsing of an open stream's chunk headers: no paths, no numpy.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

from recordings.transcription.errors import AudioError

#: A data chunk size that means "until the end of the file" (written by streaming writers).
STREAMING_SIZE = 0xFFFFFFFF


@dataclass(frozen=True)
class WavInfo:
    """What the header says: the format tag (1 = PCM, 6 = A-law, 7 = mu-law, 0x31 = GSM...), the layout,
    and where the samples are."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    data_offset: int
    data_bytes: int


def is_wav(head: bytes) -> bool:
    """Whether the first bytes are those of a RIFF/WAVE file."""
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def check_wav(stream: BinaryIO, *, name: str = "WAV") -> WavInfo:
    """The header of the WAV file open in `stream` (seekable; read from its start, chunk header by chunk
    header, never the samples).

    Raises `AudioError`: ``truncated`` when a chunk runs past the end of the file, ``no-audio`` when the
    data chunk is empty (Asterisk's 44-byte file of an unanswered call), ``not-audio`` when it is no
    RIFF/WAVE file or its format chunk is missing or says zero channels or a zero sample rate.
    """
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if not is_wav(stream.read(12)):
        raise AudioError(f"{name}: not a RIFF/WAVE file", reason="not-audio")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while True:
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            missing = "format" if fmt is None else "data"
            raise AudioError(f"{name}: truncated WAV: the file ends before its {missing} chunk", reason="truncated")
        chunk_id = header[:4]
        (chunk_size,) = struct.unpack("<I", header[4:])
        body = offset + 8
        available = size - body
        if chunk_id == b"data":
            if fmt is None:
                raise AudioError(f"{name}: WAV data chunk before any format chunk", reason="not-audio")
            if chunk_size == STREAMING_SIZE:
                chunk_size = available
            if chunk_size > available:
                raise AudioError(f"{name}: truncated WAV: the header promises {chunk_size:,} bytes of audio, "
                                 f"the file has {available:,}", reason="truncated")
            if chunk_size == 0:
                raise AudioError(f"{name}: the WAV file has no audio (an empty data chunk)", reason="no-audio")
            tag, channels, rate, bits = fmt
            return WavInfo(format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits,
                           data_offset=body, data_bytes=chunk_size)
        if chunk_id == b"fmt ":
            raw = stream.read(16)
            if len(raw) < 16:
                raise AudioError(f"{name}: truncated WAV: the format chunk is cut short", reason="truncated")
            if chunk_size < 16:
                raise AudioError(f"{name}: WAV format chunk of {chunk_size} bytes", reason="not-audio")
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", raw)
            if channels == 0 or rate == 0:
                raise AudioError(f"{name}: WAV format says {channels} channels at {rate} Hz", reason="not-audio")
            fmt = (tag, channels, rate, bits)
        offset = body + chunk_size + (chunk_size & 1)

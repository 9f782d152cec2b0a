"""Is this file a recording we can keep? RIFF/WAVE header parsing and the verdict, pure over bytes.

Asterisk's WAV writer (format_wav, what MixMonitor uses for `.wav`) writes a 44-byte header with both
sizes 0 when it opens the file and fills them in only when it closes it. So a file whose data size is 0
but which holds more bytes is still being written (or its writer died: "unfinished"); one whose header
promises more than the file holds was cut short, e.g. by a sync interrupted ("truncated"); a header and
nothing else is the file an unanswered call leaves ("header only"). The verdict says which; what to do
about it (wait, register, drop, quarantine) is `recordings.register`'s call.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from pathlib import Path

#: Enough of a file to find its `data` chunk behind any `fmt `, `fact` or `LIST` chunks a writer puts first.
HEAD_BYTES = 64 * 1024
#: What a writer leaves in a size it has not filled in yet (0, or -1 for "unknown" in streaming writers).
UNFILLED_SIZES = (0, 0xFFFFFFFF)
#: PCM, IEEE float, A-law, mu-law, WAVE_FORMAT_EXTENSIBLE: formats whose duration is bytes / byte rate.
FORMAT_TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "ulaw", 0xFFFE: "extensible"}


class Verdict(enum.Enum):
    OK = "ok"
    #: A valid header and no audio: an unanswered call's file.
    HEADER_ONLY = "header_only"
    #: The header's sizes were never filled in, audio follows: being written, or its writer died.
    UNFINISHED = "unfinished"
    #: The header promises more audio than the file holds; some whole frames are there.
    TRUNCATED = "truncated"
    #: Not one byte.
    EMPTY = "empty"
    #: Not a WAV we can read (not RIFF/WAVE, no fmt/data chunk, an unknown codec, truncated to no frames).
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class WavInfo:
    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int
    byte_rate: int
    #: Where the audio starts (just after the `data` chunk's header) and its size as the header says.
    data_offset: int
    declared_bytes: int
    file_bytes: int

    @property
    def present_bytes(self) -> int:
        """Audio bytes really in the file, in whole frames (a half-written last frame is not audio)."""
        room = max(0, self.file_bytes - self.data_offset)
        if self.declared_bytes not in UNFILLED_SIZES:
            room = min(room, self.declared_bytes)
        return room - room % self.block_align

    @property
    def frames(self) -> int:
        return self.present_bytes // self.block_align

    @property
    def duration_s(self) -> float:
        return self.present_bytes / self.byte_rate

    @property
    def unfinished(self) -> bool:
        return self.declared_bytes in UNFILLED_SIZES and self.file_bytes > self.data_offset

    @property
    def truncated(self) -> bool:
        return self.declared_bytes not in UNFILLED_SIZES and self.file_bytes - self.data_offset < self.declared_bytes


@dataclass(frozen=True)
class Inspection:
    verdict: Verdict
    #: Why, in words, for the admins (empty when OK).
    reason: str = ""
    info: WavInfo | None = None


class NotWav(ValueError):
    """The bytes are not a RIFF/WAVE file this module can read; the message says why."""


def parse_header(head: bytes, file_bytes: int) -> WavInfo:
    """The format and data chunk of a WAV from its first bytes (`head`) and its size on disk."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise NotWav("not a RIFF/WAVE file")
    offset = 12
    fmt: tuple[int, int, int, int, int, int] | None = None
    while offset + 8 <= len(head):
        chunk_id, size = head[offset:offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(head):
                raise NotWav("the fmt chunk is cut short")
            tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", head, body)
            fmt = (tag, channels, rate, byte_rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise NotWav("the data chunk comes before any fmt chunk")
            tag, channels, rate, byte_rate, block_align, bits = fmt
            if tag not in FORMAT_TAGS:
                raise NotWav(f"unsupported audio format 0x{tag:04x}")
            if not (1 <= channels <= 8 and 1000 <= rate <= 384_000 and block_align > 0 and byte_rate > 0):
                raise NotWav("impossible format values in the fmt chunk")
            return WavInfo(format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits,
                           block_align=block_align, byte_rate=byte_rate, data_offset=body, declared_bytes=size,
                           file_bytes=file_bytes)
        if size in UNFILLED_SIZES and chunk_id != b"data":
            raise NotWav(f"chunk {chunk_id!r} has no size")
        offset = body + size + (size & 1)
    raise NotWav("no data chunk" if fmt is not None else "no fmt chunk")


def inspect_bytes(head: bytes, file_bytes: int) -> Inspection:
    """The verdict on a WAV whose first bytes are `head` and whose size is `file_bytes`."""
    if file_bytes == 0:
        return Inspection(Verdict.EMPTY, "zero-length file")
    try:
        info = parse_header(head, file_bytes)
    except NotWav as exc:
        return Inspection(Verdict.CORRUPT, str(exc))
    if info.unfinished:
        if info.frames == 0:
            return Inspection(Verdict.UNFINISHED, "the header was never completed and no whole frame follows",
                              info)
        return Inspection(Verdict.UNFINISHED, "the header was never completed", info)
    if info.truncated:
        if info.frames == 0:
            return Inspection(Verdict.CORRUPT, "truncated: the header promises audio and not one frame is there",
                              info)
        return Inspection(Verdict.TRUNCATED, f"truncated: {info.present_bytes} of {info.declared_bytes} audio "
                                             "bytes present", info)
    if info.frames == 0:
        return Inspection(Verdict.HEADER_ONLY, "a header and no audio", info)
    return Inspection(Verdict.OK, "", info)


def inspect_fd(fd: int) -> Inspection:
    """The verdict on an open file (read from its start; the caller opened it without following links)."""
    size = os.fstat(fd).st_size
    head = os.pread(fd, HEAD_BYTES, 0)
    return inspect_bytes(head, size)


def repair_header(path: Path, info: WavInfo) -> int:
    """Make the header say what the file holds (whole frames), for players and our own duration; returns the
    new file size. Only the two size fields change and a half-written last frame (less than one sample per
    channel) is cut: no audio is lost."""
    audio = info.present_bytes
    end = info.data_offset + audio
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, struct.pack("<I", audio), info.data_offset - 4)
        if os.fstat(fd).st_size > end:
            os.ftruncate(fd, end)
        os.pwrite(fd, struct.pack("<I", end - 8), 4)
        os.fsync(fd)
    finally:
        os.close(fd)
    return end


def wav_header(*, channels: int, sample_rate: int, bits: int, data_bytes: int) -> bytes:
    """The 44-byte header of a PCM WAV (what Asterisk writes; the simulator and the tests use it too)."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, bits)
            + b"data" + struct.pack("<I", data_bytes))

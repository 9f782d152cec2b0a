"""AudioSocket frames: a kind byte, a 2-byte big-endian payload length, the payload.

Asterisk speaks it over TCP to the service (``chan_audiosocket`` and the ``AudioSocket()`` application,
res/res_audiosocket.c). The first frame Asterisk sends is the UUID (16 bytes), then audio in the agreed
codec (``c(slin)``: 16-bit 8 kHz signed linear, 320 bytes per 20 ms), DTMF (one ASCII digit), and a hangup
(kind 0, no payload) or an error. Pure: bytes in, frames out, and every malformed input is an
:class:`AudioSocketError` that says what was wrong; nothing here touches a socket.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    AUDIO_SLIN12 = 0x11
    AUDIO_SLIN16 = 0x12
    AUDIO_SLIN24 = 0x13
    AUDIO_SLIN32 = 0x14
    AUDIO_SLIN44 = 0x15
    AUDIO_SLIN48 = 0x16
    AUDIO_SLIN96 = 0x17
    AUDIO_SLIN192 = 0x18
    ERROR = 0xFF


HEADER_BYTES = 3
#: 8 kHz, 16-bit mono: one 20 ms frame.
SLIN_FRAME_BYTES = 320
#: The largest payload we accept. Asterisk sends one voice frame at a time (1,920 bytes for 20 ms of
#: slin48); 64 KiB, the format's own limit, would let a broken peer make us buffer that much per frame.
MAX_PAYLOAD_BYTES = 8192
_AUDIO_KINDS = frozenset(k for k in Kind if Kind.AUDIO <= k <= Kind.AUDIO_SLIN192)


class AudioSocketError(ValueError):
    """A frame that breaks the format: unknown kind, oversized, or a payload its kind cannot have."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    payload: bytes = b""

    @property
    def is_audio(self) -> bool:
        return self.kind in _AUDIO_KINDS

    def uuid(self) -> uuid.UUID:
        if self.kind is not Kind.UUID:
            raise AudioSocketError(f"not a UUID frame: {self.kind.name}")
        return uuid.UUID(bytes=self.payload)

    def digit(self) -> str:
        if self.kind is not Kind.DTMF:
            raise AudioSocketError(f"not a DTMF frame: {self.kind.name}")
        return self.payload.decode("ascii")


def encode(frame: Frame) -> bytes:
    if len(frame.payload) > MAX_PAYLOAD_BYTES:
        raise AudioSocketError(f"payload of {len(frame.payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    return bytes((frame.kind,)) + len(frame.payload).to_bytes(2, "big") + frame.payload


def uuid_frame(value: uuid.UUID) -> Frame:
    return Frame(Kind.UUID, value.bytes)


def audio_frame(pcm: bytes) -> Frame:
    """8 kHz signed linear (the ``c(slin)`` codec), little-endian as Asterisk writes it."""
    return Frame(Kind.AUDIO, pcm)


HANGUP = Frame(Kind.HANGUP)


def _checked(kind_byte: int, payload: bytes) -> Frame:
    try:
        kind = Kind(kind_byte)
    except ValueError:
        raise AudioSocketError(f"unknown frame kind 0x{kind_byte:02x}") from None
    if kind is Kind.UUID and len(payload) != 16:
        raise AudioSocketError(f"a UUID frame carries 16 bytes, not {len(payload)}")
    if kind is Kind.DTMF and (len(payload) != 1 or payload not in b"0123456789*#ABCD"):
        raise AudioSocketError(f"a DTMF frame carries one digit, not {payload[:8]!r}")
    if kind in _AUDIO_KINDS and len(payload) % 2:
        raise AudioSocketError(f"audio of {len(payload)} bytes is not whole 16-bit samples")
    return Frame(kind, payload)


class FrameReader:
    """Frames from a byte stream fed in any pieces (TCP delivers what it likes).

    ``feed`` returns every frame completed so far; a malformed header raises at once, before its payload
    is buffered, so a peer cannot make the reader hold more than one frame's worth of bytes.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER_BYTES:
            kind, length = self._buffer[0], int.from_bytes(self._buffer[1:3], "big")
            if length > MAX_PAYLOAD_BYTES:
                raise AudioSocketError(f"frame of {length} bytes is over {MAX_PAYLOAD_BYTES}")
            if len(self._buffer) < HEADER_BYTES + length:
                if kind not in Kind._value2member_map_:
                    raise AudioSocketError(f"unknown frame kind 0x{kind:02x}")
                break
            payload = bytes(self._buffer[HEADER_BYTES:HEADER_BYTES + length])
            del self._buffer[:HEADER_BYTES + length]
            frames.append(_checked(kind, payload))
        return frames

    @property
    def pending(self) -> int:
        """Bytes of a frame not yet complete (what a peer that closes now leaves cut off)."""
        return len(self._buffer)

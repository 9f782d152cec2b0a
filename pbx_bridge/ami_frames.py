"""Bytes to AMI frames and back: the first of the two parsing stages.

The AMI wire format is a stream of ``Key: Value`` lines ended by CRLF, one frame per block,
blocks separated by an empty line; a connection opens with a single banner line
(``Asterisk Call Manager/x.y.z``). This module only cuts the stream into frames; it knows no
header names except the banner's prefix (typed events live in :mod:`pbx_bridge.ami_events`).

The parser sits on a socket fed by a PBX we do not control, so it must never raise on bad
input and never grow without bound: problems are counted in :class:`FrameStats` and parsing
resynchronises at the next line end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

#: The longest header line we keep; a longer one is dropped (Asterisk's own lines are far shorter).
DEFAULT_MAX_LINE = 64 * 1024
#: The most header lines one frame may have before the rest of it is dropped.
DEFAULT_MAX_HEADERS = 4096

_BANNER_PREFIX = "Asterisk Call Manager/"
#: The characters ``bytes.strip()`` removes: a line of only these is the blank line that ends a frame.
_ASCII_SPACE = " \t\n\r\x0b\x0c"


@dataclass(frozen=True, slots=True)
class Frame:
    """One AMI message: the ordered header pairs, duplicates kept (``ChanVariable``, ``Variable``)."""

    headers: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, data: bytes) -> Frame:
        """Parse one complete frame (no banner); bad lines are skipped, never raised on."""
        parser = FrameParser()
        frames = parser.feed(data if data.endswith((b"\r\n\r\n", b"\n\n")) else data + b"\r\n\r\n")
        for item in frames:
            if isinstance(item, Frame):
                return item
        return cls(headers=())

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Frame:
        return cls(headers=tuple(pairs))

    def __bytes__(self) -> bytes:
        return b"".join(f"{key}: {value}\r\n".encode() for key, value in self.headers) + b"\r\n"

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (AMI header names are matched exactly, as Asterisk sends them)."""
        for name, value in self.headers:
            if name == key:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated header, in wire order."""
        return [value for name, value in self.headers if name == key]

    def first_values(self) -> dict[str, str]:
        """Header name to its first value: the view the typed-event decoder works on."""
        result = dict(self.headers)
        if len(result) == len(self.headers):
            return result  # no repeated header (the usual case): dict() built it in C
        result = {}
        for name, value in self.headers:
            result.setdefault(name, value)
        return result

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line that opens an AMI connection, e.g. ``Asterisk Call Manager/11.0.0``."""

    text: str

    @property
    def version(self) -> str:
        return self.text[len(_BANNER_PREFIX):] if self.text.startswith(_BANNER_PREFIX) else ""

    def __bytes__(self) -> bytes:
        return self.text.encode() + b"\r\n"


@dataclass(slots=True)
class FrameStats:
    """Counters of what the parser saw, so a misbehaving peer shows up in metrics, not in a crash."""

    bytes_received: int = 0
    frames: int = 0
    banners: int = 0
    lines_without_colon: int = 0
    decode_errors: int = 0
    oversized_lines: int = 0
    oversized_frames: int = 0

    @property
    def problems(self) -> int:
        return self.lines_without_colon + self.decode_errors + self.oversized_lines + self.oversized_frames


@dataclass(slots=True)
class FrameParser:
    """Incremental parser: feed it chunks of any size, get back the frames completed so far.

    Memory stays bounded: the buffer never holds more than ``max_line`` bytes of an unfinished
    line (a longer line is discarded up to its end), and a frame keeps at most ``max_headers``.
    """

    max_line: int = DEFAULT_MAX_LINE
    max_headers: int = DEFAULT_MAX_HEADERS
    stats: FrameStats = field(default_factory=FrameStats)
    _buffer: bytearray = field(default_factory=bytearray)
    _headers: list[tuple[str, str]] = field(default_factory=list)
    _discarding: bool = False
    _frame_overflow: bool = False

    def reset(self) -> None:
        """Forget any partial input, as after a reconnect (counters are kept)."""
        self._buffer.clear()
        self._headers.clear()
        self._discarding = False
        self._frame_overflow = False

    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished line (for tests and metrics)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | Banner]:
        """Consume ``data``; return every frame (and banner) it completed, in order."""
        self.stats.bytes_received += len(data)
        out: list[Frame | Banner] = []
        self._buffer += data
        last = self._buffer.rfind(b"\n")
        if last >= 0 and not self._discarding and self._feed_lines(last, out):
            start = last + 1
        else:
            start = self._feed_each_line(out)
        del self._buffer[:start]
        if len(self._buffer) > self.max_line:
            if not self._discarding:
                self._count_oversized()
                self._discarding = True
            self._buffer.clear()
        return out

    def _feed_lines(self, last: int, out: list[Frame | Banner]) -> bool:
        """The fast path: every complete line (up to ``last``) decoded at once and split as text.

        It gives exactly what :meth:`_line` gives line by line, so it only runs when that is sure:
        no line is over ``max_line`` and the whole block is valid UTF-8 (a ``\\n`` byte never sits
        inside a multi-byte sequence, so the text splits into the same lines). Otherwise it returns
        False and touches nothing, and the line-by-line path (which counts each problem) runs.
        A header line inside a frame is handled inline; every other line goes to :meth:`_text_line`.
        """
        block = bytes(self._buffer[:last])
        if last > self.max_line and max(map(len, block.split(b"\n"))) > self.max_line:
            return False
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if text[-1:] == "\r" and text.count("\n") == text.count("\r\n"):
            lines = text[:-1].split("\r\n")  # CRLF throughout, as Asterisk sends it
        else:
            lines = [line[:-1] if line[-1:] == "\r" else line for line in text.split("\n")]
        headers = self._headers
        max_headers = self.max_headers
        for line in lines:
            if headers:
                key, sep, value = line.partition(":")
                if sep:
                    name = key.strip()
                    if name and len(headers) < max_headers:
                        headers.append((name, value[1:] if value[:1] == " " else value))
                        continue
            headers = self._text_line(line, out)
        return True

    def _text_line(self, text: str, out: list[Frame | Banner]) -> list[tuple[str, str]]:
        """A decoded line without its line end, as :meth:`_line` treats it; returns the frame's header list."""
        if not text.strip(_ASCII_SPACE):  # what bytes.strip() strips in _line, not str's wider set
            self._end_frame(out)
        elif not self._headers and text.startswith(_BANNER_PREFIX):
            self.stats.banners += 1
            out.append(Banner(text=text))
        else:
            self._header(text)
        return self._headers

    def _feed_each_line(self, out: list[Frame | Banner]) -> int:
        """The careful path: line by line, counting oversized lines; returns where the unfinished tail starts."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end < 0:
                return start
            if self._discarding:
                # The tail of an oversized line: drop it and resume at the next line.
                self._discarding = False
            elif end - start > self.max_line:
                self._count_oversized()
            else:
                self._line(bytes(self._buffer[start:end]), out)
            start = end + 1

    def _count_oversized(self) -> None:
        self.stats.oversized_lines += 1
        logger.warning("AMI line longer than %d bytes dropped", self.max_line)

    def _line(self, raw: bytes, out: list[Frame | Banner]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            self._end_frame(out)
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            self.stats.decode_errors += 1
            logger.debug("AMI line with invalid UTF-8: %r", raw[:80])
        if not self._headers and text.startswith(_BANNER_PREFIX):
            self.stats.banners += 1
            out.append(Banner(text=text))
            return
        self._header(text)

    def _header(self, text: str) -> None:
        key, sep, value = text.partition(":")
        if not sep or not key.strip():
            self.stats.lines_without_colon += 1
            logger.debug("AMI line without a header name skipped: %r", text[:80])
            return
        if len(self._headers) >= self.max_headers:
            if not self._frame_overflow:
                self._frame_overflow = True
                self.stats.oversized_frames += 1
                logger.warning("AMI frame with more than %d headers truncated", self.max_headers)
            return
        self._headers.append((key.strip(), value[1:] if value.startswith(" ") else value))

    def _end_frame(self, out: list[Frame | Banner]) -> None:
        if self._headers:
            self.stats.frames += 1
            out.append(Frame(headers=tuple(self._headers)))
        self._headers = []
        self._frame_overflow = False


def serialize_action(fields: Mapping[str, str | Iterable[str]]) -> bytes:
    """An AMI action as wire bytes; a sequence value becomes repeated headers (``Variable``).

    CR and LF inside a name or value are refused: they would let a value inject extra headers
    (a caller ID chosen by an outsider must not become a second action).
    """
    lines: list[str] = []
    for key, value in fields.items():
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            for text in (key, item):
                if "\r" in text or "\n" in text:
                    raise ValueError(f"line break in AMI header {key!r}")
            lines.append(f"{key}: {item}\r\n")
    return ("".join(lines) + "\r\n").encode()

"""FastAGI wire format: the ``agi_*`` environment block, commands, and Asterisk's replies.

Asterisk (res_agi.c) opens the TCP connection, sends ``agi_name: value`` lines ending in LF,
then one empty line; after that each command we send is one LF-terminated line, answered by
``200 result=N [(data)]``, ``510 Invalid or unknown command``, ``511 Command Not Permitted on a
dead channel``, or a multi-line ``520-...`` usage block ending in ``520 End of proper usage.``.
When the channel hangs up it writes ``HANGUP`` on its own line. Values are raw UTF-8.

Commands are split by res_agi's ``parse_args``: whitespace separates words, ``"`` toggles
quoting, ``\\`` escapes the next character. :func:`quote` writes a value that comes back from
that parser as exactly one word, and :func:`split_command` is that parser (the simulator uses
it to read what the router sent, so both sides agree on the same rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

#: The longest command line res_agi accepts (AGI_BUF_LEN); longer values are cut before quoting.
MAX_COMMAND_BYTES = 2048
#: Display texts (caller names) beyond this are cut: Asterisk's Cdr keeps 80 bytes of CallerID, phones far less.
MAX_DISPLAY_CHARS = 80
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_]*\))?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
_ENV_LINE = re.compile(r"(agi_[a-z0-9_]+): ?(.*)")


class BadEnvironment(ValueError):
    """The peer did not send an AGI environment (garbage, or not a line we understand)."""


def parse_env_line(line: bytes) -> tuple[str, str]:
    """``b"agi_callerid: 79161110001\\n"`` -> ``("agi_callerid", "79161110001")``; raise on anything else."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", errors="replace")
    text = text.rstrip("\r\n")
    match = _ENV_LINE.fullmatch(text)
    if match is None:
        raise BadEnvironment(f"not an AGI environment line: {text[:60]!r}")
    return match.group(1), match.group(2)


def clean_value(value: str) -> str:
    """One line of printable text: control characters (CR, LF, NUL, line separators...) become spaces."""
    return _CONTROL.sub(" ", value)


def display_text(value: str) -> str:
    """A caller name as a phone may show it: one line, at most MAX_DISPLAY_CHARS characters."""
    return clean_value(value)[:MAX_DISPLAY_CHARS]


def quote(value: str) -> str:
    """The value as one double-quoted res_agi word: ``\\`` and ``"`` escaped, no line breaks."""
    cleaned = clean_value(value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_variable(name: str, value: str) -> bytes:
    """``SET VARIABLE NAME "value"\\n`` as UTF-8; the name must be a plain variable or ``FUNC(arg)``."""
    if _VARIABLE_NAME.fullmatch(name) is None:
        raise ValueError(f"not a channel variable name: {name!r}")
    line = f"SET VARIABLE {name} {quote(value)}\n".encode()
    if len(line) > MAX_COMMAND_BYTES:
        raise ValueError(f"SET VARIABLE {name}: command longer than {MAX_COMMAND_BYTES} bytes")
    return line


def split_command(line: str) -> list[str]:
    """Split a command line into words exactly as res_agi's ``parse_args`` does."""
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for ch in line.rstrip("\n"):
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
            continue
        if ch in " \t" and not quoted and not escaped:
            if current is not None:
                words.append("".join(current))
                current = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
        current.append(ch)
        escaped = False
    if current is not None:
        words.append("".join(current))
    return words


class ReplyKind(Enum):
    OK = "ok"              # 200
    INVALID = "invalid"    # 510: unknown command
    DEAD = "dead"          # 511: dead channel
    USAGE = "usage"        # 520: syntax error (after the whole usage block was read)
    HANGUP = "hangup"      # the channel hung up
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    code: int | None
    text: str

    @property
    def ok(self) -> bool:
        return self.kind is ReplyKind.OK


_CODES = {200: ReplyKind.OK, 510: ReplyKind.INVALID, 511: ReplyKind.DEAD, 520: ReplyKind.USAGE}


def parse_reply_line(line: bytes) -> tuple[Reply, bool]:
    """One reply line -> (reply, more): ``more`` is True for a ``520-`` line that a usage block continues."""
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    if text.strip() == "HANGUP":
        return Reply(ReplyKind.HANGUP, None, text), False
    if len(text) >= 3 and text[:3].isdigit():
        code = int(text[:3])
        more = code == 520 and text[3:4] == "-"
        return Reply(_CODES.get(code, ReplyKind.OTHER), code, text), more
    return Reply(ReplyKind.OTHER, None, text), False


def env_block(pairs: list[tuple[str, str]]) -> bytes:
    """The environment as Asterisk writes it: ``name: value`` lines, LF ends, then an empty line."""
    return b"".join(f"{name}: {clean_value(value)}\n".encode() for name, value in pairs) + b"\n"

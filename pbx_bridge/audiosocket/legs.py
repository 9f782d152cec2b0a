"""Softphone legs: the AudioSocket dial string the router puts in ROUTE_TARGETS, and whose a channel is.

The call record needs to know which operator an ``AudioSocket/...`` channel is, when it answers, when it
hangs up, in the live tracker and in the CDR rows alike, also after a restart and on another instance
than the one that routed the call. So the router writes the operator into the leg's UUID, which
Asterisk puts in the channel's name (``AudioSocket/127.0.0.1:9092-<uuid>``, chan_audiosocket.c): the
last group (the UUID's 12-digit "node") is the operator's extension, left-padded with ``f``
(``…-fffffffff101`` is extension 101; ``f`` is no digit, so extensions with leading zeros survive). The
rest is random, version 4, so every leg has its own UUID. A UUID without that shape (some other
AudioSocket application's) belongs to nobody.
"""

from __future__ import annotations

import re
import uuid

#: ``AudioSocket/<host:port>-<uuid>``: the UUID is the part after the server, which itself may hold "-".
_CHANNEL = re.compile(r"AudioSocket/(?P<server>.+)-(?P<uuid>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})",
                      re.IGNORECASE)
#: A dial target ``AudioSocket/<host:port>/<uuid>[/options]``.
_TARGET = re.compile(r"AudioSocket/(?P<server>[^/]+)/(?P<uuid>[0-9a-fA-F-]{36})(?:/.*)?", re.IGNORECASE)
_NODE_DIGITS = 12
_PAD = "f"
#: The codec Asterisk sends and expects: 16-bit 8 kHz signed linear (ARCHITECTURE.md's AudioSocket contract).
CODEC = "slin"


def leg_uuid(extension: str) -> uuid.UUID:
    """A fresh UUID for one softphone leg of `extension` (1 to 11 digits)."""
    if not (extension.isascii() and extension.isdigit() and 0 < len(extension) < _NODE_DIGITS):
        raise ValueError(f"a softphone leg needs an extension of 1 to 11 digits, not {extension[:20]!r}")
    random = uuid.uuid4().hex
    return uuid.UUID(random[:20] + extension.rjust(_NODE_DIGITS, _PAD))


def extension_of(value: str | uuid.UUID) -> str | None:
    """The extension a :func:`leg_uuid` carries; None for any other UUID (or not a UUID)."""
    try:
        node = (value if isinstance(value, uuid.UUID) else uuid.UUID(value)).hex[-_NODE_DIGITS:]
    except ValueError:
        return None
    digits = node.lstrip(_PAD)
    return digits if digits and digits.isdigit() and node[0] == _PAD else None


def dial_string(server: str, extension: str) -> str:
    """``AudioSocket/127.0.0.1:9092/<uuid>/c(slin)``: Dial() target for `extension`'s softphone at `server`."""
    return f"AudioSocket/{server}/{leg_uuid(extension)}/c({CODEC})"


def channel_extension(channel_name: str) -> str | None:
    """The operator an ``AudioSocket/<server>-<uuid>`` channel (or dial target) is; None if nobody's or not one."""
    match = _CHANNEL.fullmatch(channel_name) or _TARGET.fullmatch(channel_name)
    return extension_of(match.group("uuid")) if match else None


def device(channel_name: str) -> str | None:
    """``AudioSocket/<uuid>`` for an AudioSocket channel or dial target, so a target finds the channel it made."""
    match = _CHANNEL.fullmatch(channel_name) or _TARGET.fullmatch(channel_name)
    return f"AudioSocket/{match.group('uuid').lower()}" if match else None

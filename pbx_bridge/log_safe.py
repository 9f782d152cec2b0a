"""Text from outside (caller IDs, channel names, AGI arguments, AMI headers) made safe to log.

A caller ID may carry ESC sequences, CR/LF or BEL: written raw, they forge log lines or drive
the terminal of whoever reads the log. `printable` escapes every control, format, surrogate or
private-use character (``\\x1b``, ``\\r``, ``\\u202e``) and cuts the text to a bounded length.
"""

from __future__ import annotations

import logging
import unicodedata

MAX_LOGGED_CHARS = 200
_UNSAFE = ("Cc", "Cf", "Cs", "Co")


def printable(value: object, max_len: int = MAX_LOGGED_CHARS) -> str:
    text = str(value)
    cut = len(text) > max_len
    text = text[:max_len]
    if any(unicodedata.category(ch) in _UNSAFE for ch in text):
        text = "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNSAFE else ch
                       for ch in text)
    return text + "…" if cut else text


class PrintableLogFilter(logging.Filter):
    """A handler filter that escapes control characters in every formatted message (a last line of defence;
    the entry point installs it on its handlers). Tracebacks are left alone: they are ours, not external."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it, as it would without the filter
            return True
        safe = printable(message, max_len=max(len(message), 1))
        if safe != message:
            record.msg, record.args = safe, None
        return True

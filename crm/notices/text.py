"""Notice texts: templates with `{placeholders}`, checked when an admin saves them, rendered when sent.

One scanner serves both sides. Saving refuses what would not render as meant (an unknown or
misspelt placeholder, a stray brace, an over-long text) with a message naming the template and the
placeholders it may use. Rendering never raises: whatever got stored (a template from before a
placeholder was retired) renders with the unknown parts left as written, values stripped of
control characters, the whole bounded in length. `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from crm.errors import InvalidInput
from crm.validation import strip_control_chars

#: Longest template an admin may save, and longest text a notice may carry (about six SMS parts in Cyrillic).
MAX_TEMPLATE = 500
MAX_TEXT = 1000
#: A value put into a text is cut to this (a customer's name, a status title).
MAX_VALUE = 200

#: The placeholders each kind of notice fills.
MISSED_PLACEHOLDERS = ("minutes", "shop")
STATUS_PLACEHOLDERS = ("order_number", "status", "customer", "shop")

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class _Piece:
    literal: str
    name: str | None = None  # a placeholder's name; None for literal text
    stray: bool = False  # a brace that opens or closes nothing


def _scan(template: str) -> Iterator[_Piece]:
    last = 0
    for match in _TOKEN.finditer(template):
        if match.start() > last:
            yield _Piece(template[last:match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            yield _Piece(token[0])
        elif match.group(1) is not None:
            yield _Piece(token, name=match.group(1))
        else:
            yield _Piece(token, stray=True)
        last = match.end()
    if last < len(template):
        yield _Piece(template[last:])


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholder names `template` uses, in order, each once."""
    return tuple(dict.fromkeys(p.name for p in _scan(template) if p.name is not None))


def clean_template(template: str, label: str, allowed: tuple[str, ...]) -> str:
    """`template` as it is stored ('' when blank: no notice), or InvalidInput naming `label`'s problem."""
    text = strip_control_chars(template.replace("\r\n", "\n"), multiline=True).strip()
    if len(text) > MAX_TEMPLATE:
        raise InvalidInput(f"notice template ({label}): too long (at most {MAX_TEMPLATE} characters)")
    for piece in _scan(text):
        if piece.stray:
            raise InvalidInput(f"notice template ({label}): a brace that opens or closes no placeholder "
                               "(double it for a brace in the text)")
        if piece.name is not None and piece.name not in allowed:
            shown = piece.name[:40]
            names = ", ".join("{" + a + "}" for a in allowed)
            raise InvalidInput(f"notice template ({label}): unknown placeholder {{{shown}}}; allowed: {names}")
    return text


def render(template: str, values: Mapping[str, object]) -> str:
    """The notice's text: each known placeholder replaced by its value as plain text; never raises.

    An unknown placeholder or stray brace stays as written (it was let through before the checks
    or by hand in the database); the result is one clean text of at most MAX_TEXT characters.
    """
    parts: list[str] = []
    for piece in _scan(template):
        if piece.name is not None and piece.name in values:
            parts.append(" ".join(strip_control_chars(str(values[piece.name]), multiline=True).split())[:MAX_VALUE])
        else:
            parts.append(piece.literal)
    text = strip_control_chars("".join(parts), multiline=True).strip()
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1].rstrip() + "…"

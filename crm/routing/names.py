"""What the operator's phone shows for an inbound call, and the dialled-number form routing compares.

The display name goes into `CALLERID(name)` through an AGI `SET VARIABLE` and onto desk phone
screens, so it is built only from a whitelist of characters (letters, digits, spaces and a little
punctuation): no quotes or backslashes that would break the AGI command line, no markup, no control
or bidi characters, and at most `MAX_DISPLAY` characters with the markers (VIP, order number) kept.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from crm.phones import format_phone, try_normalize_phone

if TYPE_CHECKING:
    from crm.routing.policy import CallerInfo

MAX_DISPLAY = 40
SEPARATOR = " · "
VIP_MARK = "VIP"
ORDER_MARK = "заказ {number}"
HIDDEN_NUMBER = "Номер скрыт"
#: Names the call recorder gives contacts it creates for unknown numbers ("Новый клиент +7 916 ...").
PLACEHOLDER_PREFIX = "Новый клиент"
_KEEP_PUNCTUATION = frozenset(" .,-'()№#/+_&")
_MARKUP = re.compile(r"<[^>]*>?")
_NON_DIGITS = re.compile(r"[^0-9]")


def display_safe(text: str) -> str:
    """`text` reduced to letters, digits, single spaces and harmless punctuation."""
    text = _MARKUP.sub(" ", unicodedata.normalize("NFC", text))
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LN" or ch in _KEEP_PUNCTUATION:
            kept.append(ch)
        elif category[0] in "Z" or ch in "\t\n\r":
            kept.append(" ")
    return " ".join("".join(kept).split())


def digits_only(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def normalize_did(raw: str, default_region: str = "RU") -> str:
    """A dialled number as routing compares it: the E.164 digits when it is a phone number, else its digits.

    '+7 (495) 123-45-67', '84951234567' and '74951234567' are all '74951234567'; a short service
    number like '100' stays '100'.
    """
    text = raw.strip()[:64]
    e164 = try_normalize_phone(text, default_region) if text else None
    return (e164[1:] if e164 else digits_only(text))[:20]


def short_person_name(name: str) -> str:
    """'Иванов Иван Петрович' -> 'Иванов И.' (the CRM keeps people as surname first)."""
    words = name.split()
    if len(words) >= 2 and words[1][0].isalpha():
        return f"{words[0]} {words[1][0].upper()}."
    return words[0] if words else ""


def _fit(base: str, markers: list[str]) -> str:
    """Join base and markers, shortening the base (never the markers) to fit MAX_DISPLAY."""
    suffix = "".join(SEPARATOR + m for m in markers)
    room = MAX_DISPLAY - len(suffix)
    if len(base) > room:
        base = base[:max(room, 0)].rstrip(" .,-")
    text = (base + suffix) if base else suffix.removeprefix(SEPARATOR)
    return text[:MAX_DISPLAY]


def caller_display_name(caller: CallerInfo | None, caller_number: str, caller_e164: str | None, *,
                        order_number: str | None = None) -> str:
    """E.g. 'Иванов И. · VIP · заказ 10234'; an unknown caller shows the formatted number.

    A contact the recorder created for a new number ('Новый клиент ...') counts as unknown: its
    name says nothing the number does not.
    """
    base = ""
    if caller is not None and not caller.name.startswith(PLACEHOLDER_PREFIX):
        clean = display_safe(caller.name)
        base = clean if caller.kind == "company" else short_person_name(clean)
    if not base:
        if caller_e164:
            base = format_phone(caller_e164)
        else:
            digits = digits_only(caller_number)
            plain = not any(ch.isalpha() for ch in caller_number)
            base = (("+" if caller_number.strip().startswith("+") else "") + digits[:20]) if digits and plain \
                else HIDDEN_NUMBER
    markers: list[str] = []
    if caller is not None and caller.vip:
        markers.append(VIP_MARK)
    if order_number:
        number = display_safe(order_number)[:16]
        if number:
            markers.append(ORDER_MARK.format(number=number))
    return _fit(base, markers)

"""Phone numbers as the CRM stores them: E.164, parsed by Google's libphonenumber.

`8 (916) 123-45-67`, `+7 916 1234567` and `79161234567` are one number. The Russian
trunk prefix `8` and a bare country code without `+` are the formats shop customers
and PBX caller IDs actually use, so both are accepted before the strict parse.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from crm.errors import InvalidPhone

_NON_DIAL = re.compile(r"[^\d+]")
MAX_PHONE_INPUT = 64
# Separators people and PBXes put between digits. Anything else (letters, quotes, control
# characters) means the input is not just a phone number: it is refused, never silently
# reduced to the digits it happens to contain.
_SEPARATORS = frozenset("+-()./\u2010\u2011\u2012\u2013\u2014")


def normalize_phone(raw: str, default_region: str = "RU") -> str:
    """Return the E.164 form of `raw`, or raise `InvalidPhone` with a readable reason."""
    if len(raw) > MAX_PHONE_INPUT:
        raise InvalidPhone("phone number is too long")
    text = raw.strip()
    for ch in text:
        if not (ch in _SEPARATORS or ch == " " or unicodedata.category(ch) in ("Nd", "Zs")):
            raise InvalidPhone(f"not a phone number (only digits, spaces and + - ( ) . allowed): {raw[:40]!r}")
    digits = _NON_DIAL.sub("", text)
    if not digits or digits == "+":
        raise InvalidPhone(f"not a phone number: {raw[:40]!r}")
    candidates = [digits]
    if not digits.startswith("+"):
        if digits.startswith("00"):
            candidates.insert(0, "+" + digits[2:])
        elif default_region == "RU" and len(digits) == 11 and digits[0] == "8":
            candidates.insert(0, "+7" + digits[1:])
        elif len(digits) > 10:
            candidates.append("+" + digits)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    raise InvalidPhone(f"not a valid phone number: {raw[:40]!r}")


def try_normalize_phone(raw: str, default_region: str = "RU") -> str | None:
    """Like `normalize_phone`, but `None` for anything that is not a phone (search boxes)."""
    try:
        return normalize_phone(raw, default_region)
    except InvalidPhone:
        return None


def format_phone(e164: str) -> str:
    """Human display form, e.g. `+7 916 123-45-67`."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))

"""Phone normalisation: every format shops and PBXes send becomes one E.164 string; junk is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import InvalidInput, InvalidPhone
from crm.phones import format_phone, normalize_phone, try_normalize_phone

# The example database would write .hypothesis/ into the checkout; the examples are cheap to regenerate.
PROPERTY = settings(database=None, deadline=None, max_examples=200)


@pytest.mark.parametrize("raw", [
    "8 (916) 123-45-67",
    "+7 916 1234567",
    "79161234567",
    "9161234567",
    "8-916-123-45-67",
    "+7(916)123 45 67",
    "  +7 916 123 45 67  ",
    "8\u00a0916\u00a0123\u00a045\u00a067",  # non-breaking spaces from copy-paste
    "+7.916.123.45.67",
    "007 916 123 45 67",
])
def test_russian_mobile_formats_normalise_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+79161234567"


@pytest.mark.parametrize(("raw", "e164"), [
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+49 30 901820", "+4930901820"),
    ("0049 30 901820", "+4930901820"),
    ("+1 650 253 0000", "+16502530000"),
    ("+375 29 123-45-67", "+375291234567"),
])
def test_foreign_numbers_with_plus_or_00(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


def test_moscow_landline_with_trunk_prefix() -> None:
    assert normalize_phone("8 (495) 123-45-67") == "+74951234567"


def test_default_region_applies_to_national_numbers() -> None:
    assert normalize_phone("030 901820", default_region="DE") == "+4930901820"


@pytest.mark.parametrize("raw", [
    "",
    "   ",
    "+",
    "---",
    "garbage",
    "12345",  # too short
    "+7 916 123",  # too short for a Russian number
    "+7 916 123 45 67 89 01",  # too long
    "8916123456789012345",  # too long
    "abc9161234567",  # letters around a valid number
    "8 916 CALL ME",
    "+7 916 1234567 доб. 5",
    "79161234567'; DROP TABLE customers;--",  # SQL-ish
    "9161234567 OR 1=1",
    "+7916\x001234567",  # NUL
    "+7 916 123\x1b[31m45 67",  # terminal escape
    "+7 916\t123 45 67",  # tab inside
    "+7 916 123 45 67\r\nX-Injected: 1",
    "+7 916\u202e123 45 67",  # bidi override
    "<script>alert(1)</script>",
    "1" * 65,  # longer than any phone input
])
def test_junk_is_refused_with_a_readable_message(raw: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    message = info.value.message
    assert message and message.isprintable(), message
    assert len(message) < 200
    assert info.value.slug == "invalid-phone" and info.value.http_status == 422
    assert try_normalize_phone(raw) is None


def test_invalid_phone_is_an_invalid_input() -> None:
    """The web layer maps InvalidInput to 422; phones must go the same way."""
    assert issubclass(InvalidPhone, InvalidInput)


def test_format_phone_for_display() -> None:
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("not a phone") == "not a phone"


MOBILE_PREFIXES = ("900", "903", "905", "909", "915", "916", "925", "926", "977", "985", "999")


@st.composite
def ru_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """(code, subscriber) of a Russian mobile: 3-digit operator code and 7 subscriber digits."""
    code = draw(st.sampled_from(MOBILE_PREFIXES))
    subscriber = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    return code, subscriber


def _layouts(code: str, sub: str) -> list[str]:
    return [
        f"+7{code}{sub}",
        f"7{code}{sub}",
        f"8{code}{sub}",
        f"{code}{sub}",
        f"8 ({code}) {sub[:3]}-{sub[3:5]}-{sub[5:]}",
        f"+7 {code} {sub}",
        f"8-{code}-{sub[:3]}-{sub[3:5]}-{sub[5:]}",
        f"+7({code}){sub[:3]} {sub[3:5]} {sub[5:]}",
        f"007 {code} {sub}",
        f" +7 ({code}) {sub[:3]}.{sub[3:5]}.{sub[5:]} ",
    ]


@PROPERTY
@given(ru_mobile())
def test_any_ru_mobile_in_any_layout_is_one_number(number: tuple[str, str]) -> None:
    code, sub = number
    expected = f"+7{code}{sub}"
    assert {normalize_phone(layout) for layout in _layouts(code, sub)} == {expected}


@PROPERTY
@given(ru_mobile())
def test_normalisation_is_idempotent(number: tuple[str, str]) -> None:
    e164 = normalize_phone(f"8 ({number[0]}) {number[1]}")
    assert normalize_phone(e164) == e164
    assert normalize_phone(format_phone(e164)) == e164


@PROPERTY
@given(st.text(max_size=80))
def test_arbitrary_text_is_either_e164_or_invalid_phone(raw: str) -> None:
    """Never another exception type, and whatever is accepted is strict E.164."""
    try:
        e164 = normalize_phone(raw)
    except InvalidPhone as exc:
        assert exc.message.isprintable()
    else:
        assert e164.startswith("+") and e164[1:].isdigit() and 8 <= len(e164) <= 16


@PROPERTY
@given(ru_mobile(), st.sampled_from("abcXYZ;'\"=*\x00\x07\x1b\u202eё"))
def test_a_foreign_character_anywhere_is_refused(number: tuple[str, str], junk: str) -> None:
    code, sub = number
    raw = f"+7 {code} {sub}"
    for at in (1, len(raw) // 2, len(raw)):
        with pytest.raises(InvalidPhone):
            normalize_phone(raw[:at] + junk + raw[at:])

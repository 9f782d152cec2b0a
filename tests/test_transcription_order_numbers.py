"""Order numbers in transcripts: digits as Whisper writes them, Russian number words, ordinals, dictation."""

from __future__ import annotations

import pytest

from recordings.transcription import find_order_numbers
from recordings.transcription.order_numbers import numbers_as_digits


@pytest.mark.parametrize(("text", "expected"), [
    ("Заказ номер 10234.", ("10234",)),
    ("Здравствуйте. Я звоню по заказу номер 10,234.", ("10234",)),  # Whisper's thousands comma
    ("заказ 10 234 пришёл", ("10234",)),
    ("заказ 10\u00a0234", ("10234",)),
    ("Мой заказ номер десять тысяч двести тридцать четыре до сих пор не доставлен.", ("10234",)),
    ("ДЕСЯТЬ ТЫСЯЧ ДВЕСТИ ТРИДЦАТЬ ЧЕТЫРЕ", ("10234",)),
    ("по десять тысяч двести тридцать четвёртому заказу", ("10234",)),  # ordinal, ё
    ("десять тысяч двести тридцать четвертый", ("10234",)),
    ("номер десять двести тридцать четыре", ("10234",)),  # said in two groups
    ("один ноль два три четыре", ("10234",)),  # dictated digit by digit
    ("один, ноль, два, три, четыре", ("10234",)),
    ("сорок пять тысяч шестьсот семьдесят восемь", ("45678",)),
    ("двух тысяч пятисот", ("2500",)),  # cases
    ("заказы 10234 и 10235, и снова 10234", ("10234", "10235")),  # order of mention, once each
])
def test_numbers_are_found(text: str, expected: tuple[str, ...]) -> None:
    assert find_order_numbers(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "Хорошо, я уточню на складе и перезвоню завтра утром.",
    "курьер опоздал на три часа",  # too short to be an order
    "второй заказ",
    "Hello, I am calling about my order.",
])
def test_no_order_number(text: str) -> None:
    assert find_order_numbers(text) == ()


def test_length_bounds() -> None:
    assert find_order_numbers("заказ 123 и 4567", min_digits=3) == ("123", "4567")
    assert find_order_numbers("заказ 123 и 4567", min_digits=3, max_digits=3) == ("123",)
    assert find_order_numbers("номер 0012345") == ("0012345",)  # leading zeros kept: order numbers are text


def test_numbers_as_digits_leaves_other_words() -> None:
    assert numbers_as_digits("Курьер опоздал на три часа") == "курьер опоздал на 3 часа"

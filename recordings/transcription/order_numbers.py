"""Order numbers in what was said: «заказ номер 10234», «десять тысяч двести тридцать четыре», «один ноль два…».

A transcript writes a spoken number as digits ("10234", often with a thousands separator: "10,234",
"10 234") or as words, and a customer may say it as a cardinal, an ordinal («…тридцать четвёртому
заказу») or digit by digit. `find_order_numbers` turns all of these into digit strings: Russian
number words are read by ``number-parser`` (its Russian grammar knows the cases: «двух тысяч» is
2000), ordinals first become their cardinals here (number-parser reads only cardinals), then
thousands groups and runs of single dictated digits are joined. Every number of plausible length is
returned; which of them is an order is for the CRM to say (the caller links the call only to orders
that exist). Pure text work.
"""

from __future__ import annotations

import re

from number_parser import parse

#: Russian ordinal stems (lower case, ё as е) and the cardinal each stands for.
_ORDINAL_STEMS = {
    "перв": "один", "втор": "два", "трет": "три", "четверт": "четыре", "пят": "пять", "шест": "шесть",
    "седьм": "семь", "восьм": "восемь", "девят": "девять", "десят": "десять", "одиннадцат": "одиннадцать",
    "двенадцат": "двенадцать", "тринадцат": "тринадцать", "четырнадцат": "четырнадцать",
    "пятнадцат": "пятнадцать", "шестнадцат": "шестнадцать", "семнадцат": "семнадцать",
    "восемнадцат": "восемнадцать", "девятнадцат": "девятнадцать", "двадцат": "двадцать",
    "тридцат": "тридцать", "сороков": "сорок", "пятидесят": "пятьдесят", "шестидесят": "шестьдесят",
    "семидесят": "семьдесят", "восьмидесят": "восемьдесят", "девяност": "девяносто", "сот": "сто",
    "двухсот": "двести", "трехсот": "триста", "четырехсот": "четыреста", "пятисот": "пятьсот",
    "шестисот": "шестьсот", "семисот": "семьсот", "восьмисот": "восемьсот", "девятисот": "девятьсот",
    "тысячн": "тысяча",
}
_ORDINAL_ENDINGS = ("ый", "ий", "ой", "ая", "ое", "ые", "ого", "ому", "ом", "ую", "ых", "ым", "ыми", "ье",
                    "ья", "ьи", "ьего", "ьему", "ьем", "ьей", "ью", "ьих", "ьим")
_ORDINAL = re.compile(r"\b(" + "|".join(sorted(_ORDINAL_STEMS, key=len, reverse=True)) + r")("
                      + "|".join(sorted(_ORDINAL_ENDINGS, key=len, reverse=True)) + r")\b")
#: Digit groups with a thousands separator: "10,234", "10 234", "1.000.000" (no space after the comma).
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:(?:[,.]|[ \u00a0\u202f])\d{3})+(?![\d]|[.,]\d)")
#: Three or more single digits said one by one: "1 0 2 3 4", "1, 0, 2, 3, 4", "1-0-2-3-4".
_DICTATED = re.compile(r"(?<![\d])\d(?:(?:\s*[,-]\s*|\s+)\d(?![\d])){2,}")
_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[^\d]")

DEFAULT_MIN_DIGITS = 4
DEFAULT_MAX_DIGITS = 12


def _cardinal(match: re.Match[str]) -> str:
    return _ORDINAL_STEMS[match.group(1)]


def numbers_as_digits(text: str) -> str:
    """`text` with Russian number words (cardinal or ordinal) written as digits; the rest unchanged
    (lower-cased, ё as е)."""
    lowered = text.lower().replace("ё", "е")
    return str(parse(_ORDINAL.sub(_cardinal, lowered), language="ru"))


def find_order_numbers(text: str, *, min_digits: int = DEFAULT_MIN_DIGITS,
                       max_digits: int = DEFAULT_MAX_DIGITS) -> tuple[str, ...]:
    """The numbers said in `text` with `min_digits` to `max_digits` digits, as digit strings, in order of
    first mention, each once. «Заказ номер десять тысяч двести тридцать четыре» and "заказ 10,234"
    both give ``("10234",)``."""
    digits = numbers_as_digits(text)
    digits = _THOUSANDS.sub(lambda m: _SEPARATORS.sub("", m.group(0)), digits)
    digits = _DICTATED.sub(lambda m: _SEPARATORS.sub("", m.group(0)), digits)
    found: list[str] = []
    for match in _DIGITS.finditer(digits):
        number = match.group(0)
        if min_digits <= len(number) <= max_digits and number not in found:
            found.append(number)
    return tuple(found)

"""Word error rate, for the tests and the benchmark: how far a transcript is from what was said.

Both texts are normalised first, so only words count: lower case, ё as е, punctuation and hyphens
as spaces, Russian number words as digits and thousands separators dropped ("10,234" and «десять
тысяч двести тридцать четыре» are the same word). WER is the word-level edit distance
(substitutions + deletions + insertions) over the reference's word count, as jiwer computes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recordings.transcription.order_numbers import numbers_as_digits

_THOUSANDS = re.compile(r"(?<=\d)[,.\u00a0\u202f ](?=\d{3}\b)")
_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> list[str]:
    """The words of `text`, normalised for comparison."""
    digits = _THOUSANDS.sub("", numbers_as_digits(text))
    return _NOT_WORD.sub(" ", digits.replace("_", " ")).split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word lists."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of `hypothesis` against `reference` (0.0 is perfect; it can exceed 1.0 with many insertions)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else float(len(hyp))
    return edit_distance(ref, hyp) / len(ref)

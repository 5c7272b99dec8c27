"""English surface helpers for the grammar: numbers and clock times in words, a/an.

English output is in ASR form: lower-case words, no punctuation except the apostrophe of
``o'clock``, no hyphens.
"""

from __future__ import annotations

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number(n: int) -> str:
    """A cardinal 0..999 in words: ``twenty one``, ``one hundred five``."""
    if not 0 <= n <= 999:
        raise ValueError(f"number out of range: {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + ("" if rest == 0 else " " + number(rest))


def clock(hour: int, minute: int) -> str:
    """``seven o'clock``, ``one fifteen``, ``seven thirty`` (the apostrophe is the one
    punctuation mark kept in ASR text, as in LibriSpeech)."""
    return f"{number(hour)} o'clock" if minute == 0 else f"{number(hour)} {number(minute)}"


def a_an(word: str) -> str:
    """The indefinite article for the following word, by sound: ``an eight``, ``a one``
    (the lexicon has no silent-h words such as ``hour``)."""
    if word.startswith(("one", "uni", "use", "eu")):
        return "a"
    return "an" if word[:1] in "aeiou" else "a"

"""German morphology for the synchronous grammar.

Only what the grammar needs, done right: definite / indefinite / possessive articles by
gender, number and case (nominative, accusative, dative); weak, mixed and strong
adjective endings; dative plural ``-n``; preposition + article contractions (``im``,
``ins``, ``zum``, ``vom`` ...); numbers and clock times in words.  Genitive and weak
masculine nouns (``der Junge``) are not needed by the lexicon and are not handled.
"""

from __future__ import annotations

from typing import Protocol

CASES = ("nom", "acc", "dat")
_SLOT = {"m": 0, "f": 1, "n": 2}  # index 3 is the plural

_DEF = {
    "nom": ("der", "die", "das", "die"),
    "acc": ("den", "die", "das", "die"),
    "dat": ("dem", "der", "dem", "den"),
}
# endings of ein / kein / mein / dein / unser (plural: kein-, mein- only; "ein" has none)
_EIN_END = {
    "nom": ("", "e", "", "e"),
    "acc": ("en", "e", "", "e"),
    "dat": ("em", "er", "em", "en"),
}
_WEAK = {"nom": ("e", "e", "e", "en"), "acc": ("en", "e", "e", "en"), "dat": ("en",) * 4}
_MIXED = {"nom": ("er", "e", "es", "en"), "acc": ("en", "e", "es", "en"), "dat": ("en",) * 4}
_STRONG = {
    "nom": ("er", "e", "es", "e"),
    "acc": ("en", "e", "es", "e"),
    "dat": ("em", "er", "em", "en"),
}
_CONTRACT = {
    ("in", "dem"): "im",
    ("in", "das"): "ins",
    ("an", "dem"): "am",
    ("an", "das"): "ans",
    ("zu", "dem"): "zum",
    ("zu", "der"): "zur",
    ("von", "dem"): "vom",
    ("bei", "dem"): "beim",
}


class GermanNoun(Protocol):
    """What the German functions need from a lexicon entry."""

    de: str  # singular
    de_pl: str | None  # plural (None: no plural form in the lexicon)
    gender: str  # "m", "f" or "n"


def _slot(gender: str, plural: bool) -> int:
    return 3 if plural else _SLOT[gender]


def noun_form(noun: GermanNoun, case: str, plural: bool = False) -> str:
    """The noun itself: the dative plural takes ``-n`` unless it ends in ``-n`` or ``-s``."""
    if not plural:
        return noun.de
    if noun.de_pl is None:
        raise ValueError(f"{noun.de!r} has no plural")
    if case == "dat" and not noun.de_pl.endswith(("n", "s")):
        return noun.de_pl + "n"
    return noun.de_pl


def determiner(det: str, gender: str, case: str, plural: bool = False) -> str:
    """``det`` is "def", "ein" (also kein/mein/dein/unser as given) or "none" (returns "")."""
    slot = _slot(gender, plural)
    if det == "none":
        return ""
    if det == "def":
        return _DEF[case][slot]
    if det == "ein" and plural:
        return ""  # "ein" has no plural: "Stühle", not "eine Stühle"
    return det + _EIN_END[case][slot]


def adjective(stem: str, det: str, gender: str, case: str, plural: bool = False) -> str:
    """Inflect an adjective stem after the given determiner (weak / mixed / strong)."""
    slot = _slot(gender, plural)
    if det == "def":
        table = _WEAK
    elif det == "none" or (det == "ein" and plural):
        table = _STRONG
    else:  # ein-words: mixed in the singular, weak (-en) in the plural
        table = _MIXED
    return stem + table[case][slot]


def noun_phrase(
    noun: GermanNoun,
    case: str,
    det: str = "def",
    plural: bool = False,
    adj: str | None = None,
    count: int | None = None,
) -> str:
    """A full noun phrase, e.g. ``den roten Stuhl``, ``die zwei blauen Kisten``,
    ``drei rote Stühle`` (det="none", count=3), ``meinen Regenschirm`` (det="mein").

    ``count`` = 1 with det "none" or "ein" gives the indefinite article.
    """
    if count == 1 and det in ("none", "ein"):
        det, plural, count = "ein", False, None
    parts = [determiner(det, noun.gender, case, plural)]
    if count is not None:
        parts.append(number(count))
    if adj is not None:
        parts.append(adjective(adj, det, noun.gender, case, plural))
    parts.append(noun_form(noun, case, plural))
    return " ".join(p for p in parts if p)


def prep_phrase(prep: str, phrase: str) -> str:
    """Prepend a preposition, contracting it with a following definite article."""
    article, _, rest = phrase.partition(" ")
    short = _CONTRACT.get((prep, article))
    if short is not None and rest:
        return f"{short} {rest}"
    return f"{prep} {phrase}"


_ONES = [
    "null",
    "eins",
    "zwei",
    "drei",
    "vier",
    "fünf",
    "sechs",
    "sieben",
    "acht",
    "neun",
    "zehn",
    "elf",
    "zwölf",
]
_TEENS = {13: "dreizehn", 16: "sechzehn", 17: "siebzehn"}
_TENS = {
    2: "zwanzig",
    3: "dreißig",
    4: "vierzig",
    5: "fünfzig",
    6: "sechzig",
    7: "siebzig",
    8: "achtzig",
    9: "neunzig",
}


def number(n: int) -> str:
    """A cardinal 0..999 written as one word: ``eins``, ``einundzwanzig``, ``hundertfünf``."""
    if not 0 <= n <= 999:
        raise ValueError(f"number out of range: {n}")
    if n <= 12:
        return _ONES[n]
    if n < 20:
        return _TEENS.get(n, _ONES[n - 10] + "zehn")
    if n < 100:
        tens, ones = divmod(n, 10)
        if ones == 0:
            return _TENS[tens]
        unit = "ein" if ones == 1 else _ONES[ones]
        return f"{unit}und{_TENS[tens]}"
    hundreds, rest = divmod(n, 100)
    head = "hundert" if hundreds == 1 else _ONES[hundreds] + "hundert"
    return head + (number(rest) if rest else "")


def clock(hour: int, minute: int) -> str:
    """``sieben Uhr``, ``ein Uhr fünfzehn``, ``sieben Uhr dreißig``."""
    h = "ein" if hour == 1 else number(hour)
    return f"{h} Uhr" if minute == 0 else f"{h} Uhr {number(minute)}"


def sentence(text: str, mark: str = ".") -> str:
    """Upper-case the first letter and add the final punctuation mark."""
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] + mark

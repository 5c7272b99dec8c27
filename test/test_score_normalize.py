"""Text normalisation for scoring."""

import pytest

from soundwave.errors import UserError
from soundwave.score.normalize import get_normalizer, normalize_text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, World!", "hello world"),
        ("  Don't   stop — it's 3.5 km, i.e. 1,000 m.  ", "don't stop it's 3.5 km i e 1,000 m"),
        ("rock ’n’ roll", "rock n roll"),  # quotes around a word are not inside it
        ("O’Brien said “yes”", "o'brien said yes"),  # typographic apostrophe inside a word
        ("well-known (very)", "well known very"),
        ("ＦＵＬＬ　ｗｉｄｔｈ １２", "full width 12"),  # NFKC; numbers stay digits
        ("crying_baby", "crying baby"),
        ("50% + $5", "50 + $5"),  # % is punctuation to Unicode, + and $ are symbols
        ("Straße", "straße"),
        ("'quoted' words'", "quoted words"),
        ("", ""),
    ],
)
def test_basic(text, expected):
    assert normalize_text(text) == expected
    assert get_normalizer("basic")(text) == expected


def test_named_variants():
    text = "The  Cat, sat!"
    assert get_normalizer("cased")(text) == "The Cat sat"
    assert get_normalizer("none")(text) == "The Cat, sat!"
    assert normalize_text(text, lowercase=False, punctuation=False) == "The Cat, sat!"
    with pytest.raises(UserError, match="unknown normaliser 'x'; known: basic, cased, none"):
        get_normalizer("x")

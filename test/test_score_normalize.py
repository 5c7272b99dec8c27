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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Whisper's normaliser: numbers as digits, British spellings as American,
        # contractions expanded, punctuation gone; the reference row's hypotheses
        # (Whisper writes digits) and the corpus' transcripts (words) then agree
        ("What is 13 minus 1?", "what is 13 -one"),
        ("what is thirteen minus one", "what is 13 -one"),
        ("The colour isn't grey.", "the color is not gray"),
    ],
)
def test_english(text, expected):
    assert get_normalizer("english")(text) == expected

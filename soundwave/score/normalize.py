"""Text normalisation applied to references and hypotheses before scoring.

``normalize_text`` does, in this order:

1. Unicode NFKC (full-width letters and digits, ligatures, compatibility forms), and
   typographic apostrophes (’ ‘ ʼ ´ `) become ``'``;
2. lower-casing (unless ``lowercase=False``);
3. punctuation removal (unless ``punctuation=False``): every Unicode punctuation
   character (categories ``P*``: . , ! ? ; : " - – ( ) [ ] _ / … and also % & @ # *)
   becomes a space, except an apostrophe between two letters or digits ("don't",
   "o'clock") and a ``.`` or ``,`` between two digits ("3.5", "1,000"); symbols
   (categories ``S*``: ``$ + = < ^``) are kept;
4. whitespace collapsed to single spaces, stripped at both ends.

Numbers are left as written: "12" is not turned into "twelve" nor the reverse.

Named normalisers (recorded in every score file):

- ``basic``: all four steps (WER, CER, accuracy, exact match);
- ``cased``: like ``basic`` but case kept;
- ``none``: steps 1 and 4 only, the default for BLEU and chrF, whose own tokenisers
  expect cased, punctuated text;
- ``english``: Whisper's English normaliser, the one English ASR results (LibriSpeech and
  the Whisper papers) are reported with: transformers' ``EnglishTextNormalizer`` with
  Whisper's British-to-American spelling table (``whisper_english_spelling.json``, from
  openai-whisper, MIT); it also writes numbers as digits on both sides ("thirteen" and
  "13" agree) and expands contractions.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

from soundwave.errors import UserError

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'"})


def _strip_punctuation(text: str) -> str:
    out = []
    last = len(text) - 1
    for k, ch in enumerate(text):
        if unicodedata.category(ch).startswith("P"):
            before = text[k - 1] if k > 0 else ""
            after = text[k + 1] if k < last else ""
            inside_word = ch == "'" and before.isalnum() and after.isalnum()
            inside_number = ch in ".," and before.isdigit() and after.isdigit()
            if not (inside_word or inside_number):
                ch = " "
        out.append(ch)
    return "".join(out)


def normalize_text(text: str, *, lowercase: bool = True, punctuation: bool = True) -> str:
    """Normalise ``text`` as described in the module docstring.

    ``punctuation=True`` removes punctuation; ``lowercase=False`` keeps the case.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    if lowercase:
        text = text.lower()
    if punctuation:
        text = _strip_punctuation(text)
    return " ".join(text.split())


@cache
def _whisper_english() -> Callable[[str], str]:
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    spelling = Path(__file__).with_name("whisper_english_spelling.json")
    return EnglishTextNormalizer(json.loads(spelling.read_text(encoding="utf-8")))


def english_text(text: str) -> str:
    """Whisper's English normalisation of ``text`` (see the module docstring)."""
    return " ".join(_whisper_english()(text).split())


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "basic": normalize_text,
    "cased": lambda text: normalize_text(text, lowercase=False),
    "none": lambda text: normalize_text(text, lowercase=False, punctuation=False),
    "english": english_text,
}


def get_normalizer(name: str) -> Callable[[str], str]:
    """The normaliser called ``name`` (one of :data:`NORMALIZERS`)."""
    try:
        return NORMALIZERS[name]
    except KeyError:
        raise UserError(f"unknown normaliser {name!r}; known: {', '.join(NORMALIZERS)}") from None

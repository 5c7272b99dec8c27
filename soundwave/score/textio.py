"""Reading reference and hypothesis files for scoring.

Two formats:

- ``kaldi``: ``<uttid> <text...>`` per line (a Kaldi ``text`` file; the text may be
  empty);
- ``trn``: ``<text...> (<uttid>)`` per line (sclite / ESPnet ``hyp.trn``); the id is
  what the last parentheses hold, taken as is.

``auto`` picks ``trn`` for a ``.trn`` file name and ``kaldi`` otherwise.  Blank lines
are skipped; a repeated id is an error naming the line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from soundwave.errors import UserError

FORMATS = ("auto", "kaldi", "trn")
_TRN_LINE = re.compile(r"^(.*?)\s*\(([^()\s]+)\)\s*$")


def read_utt_texts(path: str | os.PathLike, fmt: str = "auto") -> dict[str, str]:
    """``{uttid: text}`` in file order from a ``kaldi`` or ``trn`` file."""
    path = Path(path)
    if fmt == "auto":
        fmt = "trn" if path.suffix == ".trn" else "kaldi"
    if fmt not in FORMATS:
        raise UserError(f"unknown text file format {fmt!r}; known: {', '.join(FORMATS)}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError("no such file", path) from None
    except UnicodeDecodeError as err:
        raise UserError(f"not UTF-8 text ({err.reason} at byte {err.start})", path) from None
    except OSError as err:
        raise UserError(err.strerror or str(err), path) from None
    texts: dict[str, str] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if fmt == "trn":
            match = _TRN_LINE.match(line)
            if match is None:
                raise UserError("expected '<text> (<uttid>)' (trn format)", path, lineno)
            text, uttid = match.group(1), match.group(2)
        else:
            uttid, *rest = line.split(maxsplit=1)
            text = rest[0] if rest else ""
        if uttid in texts:
            raise UserError(f"utterance {uttid!r} appears twice", path, lineno)
        texts[uttid] = " ".join(text.split())
    return texts


def read_shrink_stats(path: str | os.PathLike) -> dict[str, tuple[float, int, int]]:
    """A decoder's ``shrink_stats.txt``: ``{utt: (seconds, adapter frames, LLM positions)}``."""
    stats = {}
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        try:
            utt, secs, n_in, n_out = line.split()
            stats[utt] = (float(secs), int(n_in), int(n_out))
        except ValueError:
            raise UserError(
                "expected '<utt-id> <seconds> <adapter-frames> <llm-positions>'", path, lineno
            ) from None
    return stats

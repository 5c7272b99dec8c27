"""Property-based tests of the Kaldi data-dir parser (tables.py, kaldi.py): random ids and
values round-trip through save/load; a malformed line is rejected naming file:line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soundwave.data.kaldi import DataDir
from soundwave.data.tables import read_table
from soundwave.errors import UserError

SETTINGS = settings(max_examples=40, deadline=None)

# Kaldi ids: no whitespace; printable ASCII so that C-locale order is code-point order.
ID = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
# Values: words separated by single spaces/tabs inside (leading/trailing blanks are not
# part of a value), any non-control character in the words.
WORD = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=8
)
VALUE = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@SETTINGS
@given(
    text=st.dictionaries(ID, VALUE, min_size=1, max_size=8),
    spk=st.lists(ID, min_size=1, max_size=3),
)
def test_random_data_dir_round_trips(text: dict[str, str], spk: list[str]) -> None:
    utts = sorted(text)
    utt2spk = {u: spk[i % len(spk)] for i, u in enumerate(utts)}
    d = DataDir({"text": text, "utt2spk": utt2spk}).sort()
    with tempfile.TemporaryDirectory() as tmp:
        path = d.save(Path(tmp) / "data")
        back = DataDir.load(path)
        assert back.tables == d.tables
        assert list(back["text"]) == utts  # sorted on disk, read in file order
        assert back.spk2utt == d.spk2utt
        assert read_table(path / "text") == d["text"]


BAD_LINES = {
    "empty line": b"",
    "no value": b"lonely_id",
    "DOS line ending": b"u9 some words\r",
    "not valid UTF-8": b"u9 \xff\xfe",
}


@SETTINGS
@given(
    good=st.dictionaries(ID, VALUE, min_size=0, max_size=6),
    reason=st.sampled_from(sorted(BAD_LINES)),
    at=st.integers(min_value=0, max_value=6),
)
def test_malformed_line_is_rejected_with_file_and_line(
    good: dict[str, str], reason: str, at: int
) -> None:
    lines = [f"{k} {v}".encode() for k, v in sorted(good.items())]
    at = min(at, len(lines))
    lines.insert(at, BAD_LINES[reason])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "text"
        path.write_bytes(b"\n".join(lines) + b"\n")
        with pytest.raises(UserError) as err:
            read_table(path)
    assert err.value.path == str(path)
    assert err.value.line == at + 1
    assert err.value.message.startswith(reason)
    assert str(err.value).startswith(f"{path}:{at + 1}: ")


@SETTINGS
@given(
    ids=st.lists(ID, min_size=2, max_size=6, unique=True),
    duration=st.one_of(
        st.floats(max_value=-1e-3, allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["nan", "inf", "x1", ""]),
    ),
)
def test_bad_duration_names_its_line(ids: list[str], duration: str) -> None:
    ids = sorted(ids)
    lines = [f"{u} 1.5" for u in ids]
    lines[-1] = f"{ids[-1]} {duration}".rstrip()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utt2dur"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(UserError) as err:
            read_table(path)
    assert (err.value.path, err.value.line) == (str(path), len(ids))

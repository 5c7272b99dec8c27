"""The data-dir model: file kinds, line parsing, strict and lenient reading, load/save."""

from __future__ import annotations

from pathlib import Path

import pytest
from datadir_util import make_datadir, read_dir, umask

from soundwave.data.kaldi import DataDir
from soundwave.data.tables import RECO, SPK, UTT, file_kind, format_seconds, read_table
from soundwave.errors import UserError


def test_file_kinds() -> None:
    kinds = {
        "text": UTT,
        "text.de": UTT,
        "utt2task": UTT,
        "segments": UTT,
        "feats.scp": UTT,
        "spk2gender": SPK,
        "spk2age": SPK,
        "cmvn.scp": SPK,
        "wav.scp": RECO,
        "reco2dur": RECO,
        "reco2file_and_channel": RECO,
        "text.bak": None,
        "utt2spk~": None,
        ".backup": None,
        "utt2": None,
        "frame_shift": None,
        "notes.txt": None,
    }
    assert {n: file_kind(n) for n in kinds} == kinds


def test_read_table_strict_and_lenient(tmp_path: Path) -> None:
    p = tmp_path / "text"
    p.write_bytes(b"b  two  words \na one\r\nb  two  words\n\nc\n")
    with pytest.raises(UserError) as exc:
        read_table(p)
    assert (exc.value.path, exc.value.line) == (str(p), 2)
    notes: list[str] = []
    table = read_table(p, strict=False, on_fix=notes.append)
    assert table == {"a": "one", "b": "two  words"}  # inner spacing of a value is kept
    assert sorted(notes) == [
        "dropped (duplicate)",
        "dropped (empty line)",
        "dropped (no value)",
        "fixed (DOS line ending removed)",
        "sorted",
    ]


def test_c_locale_order(tmp_path: Path) -> None:
    # byte order: upper case before lower case, '-' (0x2d) before digits, ASCII before UTF-8
    p = tmp_path / "utt2spk"
    p.write_text("A-1 A\na-1 a\na1 a\nz z\né é\n")
    assert list(read_table(p)) == ["A-1", "a-1", "a1", "z", "é"]
    p.write_text("a1 a\na-1 a\n")
    with pytest.raises(UserError, match="not sorted"):
        read_table(p)


def test_load_save_round_trip(tmp_path: Path) -> None:
    src = make_datadir(tmp_path)
    (src / "frame_shift").write_text("0.01\n")
    (src / "text.orig").write_text("not data\n")
    d = DataDir.load(src)
    assert "text.orig" not in d and d.verbatim == {"frame_shift": b"0.01\n"}
    assert d.spk_ids == ["spkA", "spkB", "spkC"] and d.reco_ids == d.utt_ids
    d.save(tmp_path / "copy")
    files = read_dir(src)
    del files["text.orig"]
    assert read_dir(tmp_path / "copy") == files
    assert (tmp_path / "copy").stat().st_mode & 0o777 == 0o777 & ~umask()


def test_format_seconds() -> None:
    assert [format_seconds(x) for x in (0, 1.5, 11.0, 0.25, 1 / 3, 100)] == [
        "0",
        "1.5",
        "11",
        "0.25",
        "0.3333",
        "100",
    ]

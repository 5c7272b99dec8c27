"""split / subset / combine / copy / filter_scp / spk2utt conversions, extras included."""

from __future__ import annotations

from pathlib import Path

import pytest
from datadir_util import make_datadir, make_segmented_datadir, read_dir, run_tool, umask

from soundwave.data.kaldi import DataDir
from soundwave.data.ops import _contiguous_parts, split_datadir
from soundwave.data.tables import file_kind
from soundwave.data.validate import validate_data_dir
from soundwave.errors import UserError

ALL_UTTS = ["spkA-001", "spkA-002", "spkA-003", "spkB-001", "spkB-002", "spkC-001"]


def _assert_consistent_subset(sub: Path, full: DataDir, utts: list[str]) -> None:
    """``sub`` is a valid data dir of exactly ``utts`` whose files are ``full``'s, filtered."""
    validate_data_dir(sub)
    d = DataDir.load(sub)
    assert d.utt_ids == sorted(utts)
    assert set(d.tables) == set(full.tables)
    spks = {full.utt2spk[u] for u in utts}
    for name, table in full.tables.items():
        ids = spks if file_kind(name) == "spk" else set(utts)
        assert d[name] == {k: v for k, v in table.items() if k in ids}, name


def test_split_by_speaker(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    full = DataDir.load(data)
    res = run_tool("split_data", data, 2)
    assert res.returncode == 0, res.stderr
    parts = [data / "split2" / str(i) for i in (1, 2)]
    assert sorted(p.name for p in (data / "split2").iterdir()) == ["1", "2"]
    _assert_consistent_subset(parts[0], full, ALL_UTTS[:3])
    _assert_consistent_subset(parts[1], full, ALL_UTTS[3:])
    # speakers never straddle parts; extras (text.de, utt2task, spk2age) travel
    assert (parts[1] / "spk2age").read_text() == "spkB 41\nspkC 25\n"
    assert (parts[0] / "text.de").read_text().count("\n") == 3


def test_split_by_utterance_is_balanced(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    full = DataDir.load(data)
    res = run_tool("split_data", "--per-utt", data, 4)
    assert res.returncode == 0, res.stderr
    seen = []
    for i in range(1, 5):
        part = DataDir.load(data / "split4utt" / str(i))
        seen += part.utt_ids
        _assert_consistent_subset(data / "split4utt" / str(i), full, part.utt_ids)
    assert seen == ALL_UTTS
    sizes = [len(DataDir.load(data / "split4utt" / str(i)).utt_ids) for i in range(1, 5)]
    assert max(sizes) - min(sizes) <= 1


def test_split_errors_and_segments(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    res = run_tool("split_data", data, 4)
    assert res.returncode == 1 and "cannot split 3 speakers into 4 parts" in res.stderr
    assert not (data / "split4").exists()
    seg = DataDir.load(make_segmented_datadir(tmp_path))
    p1, p2 = split_datadir(seg, 2)
    assert list(p1["wav.scp"]) == list(p1["reco2dur"]) == ["rec1"]
    assert list(p2["wav.scp"]) == ["rec2"]
    assert list(p2["text.fr"]) == ["spkY-rec2-000", "spkY-rec2-001"]


def test_contiguous_parts_balance() -> None:
    assert _contiguous_parts([5, 1, 1, 1, 1, 1], 2) == [0, 1, 6]
    assert _contiguous_parts([1, 1, 1, 1, 1, 1], 3) == [0, 2, 4, 6]
    assert _contiguous_parts([10, 1, 1], 3) == [0, 1, 2, 3]  # every part non-empty
    assert _contiguous_parts([1, 2, 3, 4, 5, 6, 7, 8], 2) == [0, 5, 8]  # 15 vs 21 (a tie)


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--first", 2], ALL_UTTS[:2]),
        (["--last", 2], ALL_UTTS[-2:]),
        (["--first", "{src}", 3, "{dest}"], ALL_UTTS[:3]),  # Kaldi's argument order
        (["--per-spk", "{src}", 1, "{dest}"], ["spkA-001", "spkB-001", "spkC-001"]),
        (["--shortest", 2], ["spkA-001", "spkA-002"]),
        (["--spk-list", "{spks}"], ["spkB-001", "spkB-002", "spkC-001"]),
        (["--utt-list", "{utts}"], ["spkA-003", "spkC-001"]),
    ],
)
def test_subset(tmp_path: Path, args: list, expected: list[str]) -> None:
    src = make_datadir(tmp_path)
    (tmp_path / "spks").write_text("spkB\nspkC extra fields ignored\n")
    (tmp_path / "utts").write_text("spkC-001\nspkA-003\nnot-an-utt\n")
    dest = tmp_path / "sub"
    fill = {"src": src, "dest": dest, "spks": tmp_path / "spks", "utts": tmp_path / "utts"}
    argv = [str(a).format(**fill) for a in args]
    if "{src}" not in map(str, args):
        argv += [str(src), str(dest)]
    res = run_tool("subset_data_dir", *argv)
    assert res.returncode == 0, res.stderr
    _assert_consistent_subset(dest, DataDir.load(src), expected)


def test_subset_random_is_reproducible(tmp_path: Path) -> None:
    src = make_datadir(tmp_path)
    picks = []
    for seed in (1, 1, 2, 3, 4):
        dest = tmp_path / f"r{len(picks)}"
        res = run_tool("subset_data_dir", "--seed", seed, src, 3, dest)
        assert res.returncode == 0, res.stderr
        picks.append(DataDir.load(dest).utt_ids)
        _assert_consistent_subset(dest, DataDir.load(src), picks[-1])
    assert picks[0] == picks[1]
    assert len({tuple(p) for p in picks}) > 1
    res = run_tool("subset_data_dir", "--speakers", src, 4, tmp_path / "spk")
    assert res.returncode == 0
    d = DataDir.load(tmp_path / "spk")
    assert len(d.utt_ids) >= 4 and all(
        len(us) == len(DataDir.load(src).spk2utt[s]) for s, us in d.spk2utt.items()
    )


def test_combine(tmp_path: Path) -> None:
    a = make_datadir(tmp_path)
    b = tmp_path / "b"
    assert (
        run_tool("copy_data_dir", "--utt-prefix", "x-", "--spk-prefix", "x-", a, b).returncode == 0
    )
    res = run_tool("combine_data", tmp_path / "ab", a, b)
    assert res.returncode == 0, res.stderr
    ab = validate_data_dir(tmp_path / "ab")
    assert len(ab.utt_ids) == 12 and len(ab.spk_ids) == 6
    assert set(ab.tables) == set(DataDir.load(a).tables)
    assert ab["text.de"]["x-spkA-001"] == ab["text.de"]["spkA-001"] == "hallo nummer 0"
    assert ab["spk2age"]["x-spkB"] == "41"

    # an utterance id in two sources
    res = run_tool("combine_data", tmp_path / "aa", a, a)
    assert res.returncode == 1
    assert f"{a}/utt2spk:1: id 'spkA-001' is also in {a}/utt2spk" in res.stderr
    assert not (tmp_path / "aa").exists()

    # with and without segments; a file missing from one source is left out
    seg = make_segmented_datadir(tmp_path)
    res = run_tool("combine_data", tmp_path / "mixed", a, seg)
    assert res.returncode == 0, res.stderr
    assert "leaving out spk2gender: it is missing from" in res.stderr
    mixed = validate_data_dir(tmp_path / "mixed")
    assert mixed["segments"]["spkA-002"] == "spkA-002 0 0.25"
    assert mixed["segments"]["spkY-rec2-000"] == "rec2 0.1 0.6"
    assert mixed["reco2dur"]["spkA-002"] == "0.25"
    assert "spk2gender" not in mixed and "text.fr" in mixed and "text.de" in mixed


def test_copy_with_prefixes_and_suffixes(tmp_path: Path) -> None:
    src = make_datadir(tmp_path)
    dest = tmp_path / "sp"
    res = run_tool(
        "copy_data_dir",
        "--utt-prefix",
        "sp0.9-",
        "--spk-prefix",
        "sp0.9-",
        "--utt-suffix",
        "-r",
        src,
        dest,
    )
    assert res.returncode == 0, res.stderr
    d = validate_data_dir(dest)
    assert d.utt_ids == [f"sp0.9-{u}-r" for u in ALL_UTTS]
    assert list(d["wav.scp"]) == d.utt_ids  # recordings are utterances here
    assert d["spk2gender"] == {"sp0.9-spkA": "f", "sp0.9-spkB": "m", "sp0.9-spkC": "f"}
    assert d["utt2task"]["sp0.9-spkA-002-r"] == "asr" and d["spk2age"]["sp0.9-spkC"] == "25"
    assert (dest / "spk2utt").read_text().startswith("sp0.9-spkA sp0.9-spkA-001-r ")
    # a speaker suffix breaks speaker-prefixed utterance ids
    res = run_tool("copy_data_dir", "--spk-suffix", "-x", src, tmp_path / "bad")
    assert res.returncode == 1 and "does not start with its speaker id 'spkA-x'" in res.stderr
    assert not (tmp_path / "bad").exists()
    # with segments, recording ids stay
    seg = make_segmented_datadir(tmp_path)
    assert (
        run_tool(
            "copy_data_dir", "--utt-prefix", "a-", "--spk-prefix", "a-", seg, tmp_path / "s2"
        ).returncode
        == 0
    )
    s2 = validate_data_dir(tmp_path / "s2")
    assert list(s2["wav.scp"]) == ["rec1", "rec2"]
    assert s2["segments"]["a-spkX-rec1-000"] == "rec1 0 0.5"


def test_save_into_existing_dir_keeps_other_things(tmp_path: Path) -> None:
    src = make_datadir(tmp_path)
    dest = make_datadir(tmp_path, "dest")
    (dest / "conf").mkdir()
    (dest / "notes.txt").write_text("mine\n")
    DataDir.load(src).select(ALL_UTTS[:2]).save(dest)
    assert (dest / "conf").is_dir() and (dest / "notes.txt").read_text() == "mine\n"
    assert DataDir.load(dest).utt_ids == ALL_UTTS[:2]
    assert oct((dest / "text").stat().st_mode & 0o777) == oct(0o666 & ~umask())
    d = DataDir.load(src)
    del d.tables["utt2task"]
    d.save(dest)
    assert not (dest / "utt2task").exists()


def test_filter_scp(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    ids = tmp_path / "ids"
    ids.write_text("spkB-002 x\nspkA-001\n")
    res = run_tool("filter_scp", ids, data / "text")
    assert res.stdout == "spkA-001 hello number 0\nspkB-002 hello number 4\n"
    res = run_tool("filter_scp", "--exclude", ids, data / "text")
    assert [ln.split()[0] for ln in res.stdout.splitlines()] == [
        "spkA-002",
        "spkA-003",
        "spkB-001",
        "spkC-001",
    ]
    (tmp_path / "spks").write_text("spkB\n")
    res = run_tool("filter_scp", "-f", 2, tmp_path / "spks", stdin=(data / "utt2spk").read_text())
    assert res.stdout == "spkB-001 spkB\nspkB-002 spkB\n"
    res = run_tool("filter_scp", ids, tmp_path / "nope")
    assert res.returncode == 1 and "nope: cannot read" in res.stderr


def test_spk2utt_conversions(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    res = run_tool("utt2spk_to_spk2utt", data / "utt2spk")
    assert res.stdout == (data / "spk2utt").read_text()
    res = run_tool("spk2utt_to_utt2spk", stdin=(data / "spk2utt").read_text())
    assert res.stdout == (data / "utt2spk").read_text()
    # order of first appearance, as Kaldi's perl script
    res = run_tool("utt2spk_to_spk2utt", stdin="b-1 b\na-1 a\nb-2 b\n")
    assert res.stdout == "b b-1 b-2\na a-1\n"
    res = run_tool("utt2spk_to_spk2utt", stdin="a-1 a\nb-1\n")
    assert res.returncode == 1 and "<stdin>:2: expected '<utt> <spk>'" in res.stderr


def test_select_is_consistent_in_memory(tmp_path: Path) -> None:
    d = DataDir.load(make_datadir(tmp_path))
    sub = d.select(["spkB-002", "unknown"])
    assert sub.utt_ids == ["spkB-002"] and sub.spk2utt == {"spkB": ["spkB-002"]}
    assert sub["spk2age"] == {"spkB": "41"} and sub.extras.keys() == {
        "text.de",
        "utt2task",
        "spk2age",
    }
    with pytest.raises(UserError, match="cannot split into 0 parts"):
        split_datadir(d, 0)
    assert read_dir(tmp_path / "data")["utt2spk"].count("\n") == 6

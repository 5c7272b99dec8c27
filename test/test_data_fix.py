"""fix_data_dir: repairs what is repairable, reports it, keeps a backup, refuses the rest."""

from __future__ import annotations

from pathlib import Path

from datadir_util import make_datadir, make_segmented_datadir, read_dir, run_tool

from soundwave.data.fix import fix_data_dir
from soundwave.data.kaldi import DataDir
from soundwave.data.validate import validate_data_dir


def _break_plain_dir(d: Path) -> dict[str, str]:
    """Damage a good dir in repairable ways; returns the original files."""
    good = read_dir(d)
    text = (d / "text").read_text().splitlines(True)
    # unsorted, an identical duplicate, an empty line, a line without value, bad UTF-8
    (d / "text").write_bytes(
        "".join(reversed(text)).encode()
        + text[0].encode()
        + b"\n"
        + b"spkZ-001\n"
        + b"spkZ-002 \xff\xfe\n"
    )
    # an utterance missing from wav.scp must go everywhere, extras included
    wav = (d / "wav.scp").read_text().splitlines(True)
    (d / "wav.scp").write_text("".join(w for w in wav if not w.startswith("spkB-002")))
    # extras with an unknown utterance and DOS line endings
    (d / "utt2task").write_text(
        (d / "utt2task").read_text().replace("\n", "\r\n") + "spkZ-009 asr\n"
    )
    (d / "spk2utt").write_text("garbage\n")
    return good


def test_fix_repairs_reports_and_backs_up(tmp_path: Path) -> None:
    d = make_datadir(tmp_path)
    good = _break_plain_dir(d)
    broken = read_dir(d)
    assert run_tool("validate_data_dir", d).returncode == 1

    res = run_tool("fix_data_dir", d)
    assert res.returncode == 0, res.stderr
    report = res.stderr
    assert f"{d}/text: sorted" in report
    assert f"{d}/text: 1 line dropped (duplicate)" in report
    assert f"{d}/text: 1 line dropped (empty line)" in report
    assert f"{d}/text: 1 line dropped (no value)" in report
    assert f"{d}/text: 1 line dropped (not valid UTF-8)" in report
    assert f"{d}/utt2task: 6 lines fixed (DOS line ending removed)" in report
    assert f"{d}/utt2task: 2 lines dropped (utterance not kept)" in report
    assert f"{d}: 1 utterance dropped (missing from wav.scp)" in report
    assert f"kept 5 of 6 utterances, 3 speakers, 5 recordings; originals in {d}/.backup" in report

    validate_data_dir(d)
    fixed = read_dir(d)
    for name in good:  # every file is the good one without spkB-002
        expected = "".join(
            ln for ln in good[name].splitlines(True) if not ln.startswith("spkB-002")
        )
        if name == "spk2utt":
            expected = expected.replace(" spkB-002", "")
        assert fixed[name] == expected, name
    assert read_dir(d / ".backup") == broken

    # a second run has nothing to do and writes nothing
    before = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    report2 = fix_data_dir(d)
    assert not report2.written and report2.lines()[-1].endswith("nothing to fix")
    assert {p.name: p.stat().st_mtime_ns for p in d.iterdir()} == before


def test_fix_segments_and_recordings(tmp_path: Path) -> None:
    d = make_segmented_datadir(tmp_path)
    seg = (d / "segments").read_text()
    seg = seg.replace("spkY-rec2-000 rec2 0.1 0.6", "spkY-rec2-000 rec9 0.1 0.6")  # unknown rec
    seg = seg.replace("spkY-rec2-001 rec2 0.6 0.95", "spkY-rec2-001 rec2 0.6 3")  # past end
    seg = seg.replace("spkX-rec1-001 rec1 0.5 1", "spkX-rec1-001 rec1 0.5 0.4")  # end < start
    (d / "segments").write_text(seg)
    report = fix_data_dir(d)
    lines = "\n".join(report.lines())
    assert "segments: 1 line dropped (recording not in wav.scp)" in lines
    assert "segments: 1 line dropped (segment ends past its recording's end in reco2dur)" in lines
    assert "segments: 1 line dropped (segment end not after start)" in lines
    assert "wav.scp: 1 line dropped (recording without utterances)" in lines
    d2 = DataDir.load(d)
    assert d2.utt_ids == ["spkX-rec1-000"]
    assert (
        list(d2["wav.scp"]) == list(d2["reco2dur"]) == list(d2["reco2file_and_channel"]) == ["rec1"]
    )
    assert list(d2["text.fr"]) == ["spkX-rec1-000"]
    assert (d / "spk2utt").read_text() == "spkX spkX-rec1-000\n"
    validate_data_dir(d)


def test_fix_refuses_what_it_cannot_repair(tmp_path: Path) -> None:
    d = make_datadir(tmp_path)
    utt2spk = (d / "utt2spk").read_text()
    (d / "utt2spk").write_text(utt2spk.replace("spkC-001 spkC", "spkC-001 spkB"))
    (d / "text").write_text("".join(reversed((d / "text").read_text().splitlines(True))))
    before = read_dir(d)
    res = run_tool("fix_data_dir", d)
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0
    assert f"{d}/utt2spk:6: cannot repair: utterance id 'spkC-001' does not start" in res.stderr
    assert read_dir(d) == before and not (d / ".backup").exists()

    # two different values for one id
    d = make_datadir(tmp_path, "d2")
    with open(d / "text", "a") as f:
        f.write("spkA-001 another transcript\n")
    res = run_tool("fix_data_dir", d)
    assert res.returncode == 1 and f"{d}/text:7: cannot repair: id 'spkA-001'" in res.stderr

    # nothing left
    d = make_datadir(tmp_path, "d3")
    (d / "text").write_text("spkQ-001 nobody\n")
    res = run_tool("fix_data_dir", d)
    assert res.returncode == 1 and "no utterance is left" in res.stderr


def test_fix_drops_speakers_missing_from_spk2gender(tmp_path: Path) -> None:
    d = make_datadir(tmp_path)
    (d / "spk2gender").write_text("spkA f\nspkC f\n")
    report = fix_data_dir(d)
    assert ("utterances", "speaker missing from spk2gender") in report.changes
    assert DataDir.load(d).spk_ids == ["spkA", "spkC"]
    assert "spkB" not in (d / "spk2age").read_text()

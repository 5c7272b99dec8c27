"""validate_data_dir: a good dir passes silently; each malformed case is one clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from datadir_util import lines, make_datadir, make_segmented_datadir, run_tool, write_files

from soundwave.data.validate import validate_data_dir
from soundwave.errors import UserError


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _set(path: Path, key: str, value: str) -> None:
    """Give ``key`` a new value in the key-value file ``path``."""
    out = [
        f"{key} {value}" if ln.split(maxsplit=1)[0] == key else ln
        for ln in path.read_text().splitlines()
    ]
    path.write_text("\n".join(out) + "\n")


def d2u(d: Path) -> list[str]:
    """The utterance ids of data dir ``d``."""
    return [ln.split()[0] for ln in (d / "utt2spk").read_text().splitlines()]


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def test_good_dirs_pass_silently(tmp_path: Path) -> None:
    for d in (make_datadir(tmp_path), make_segmented_datadir(tmp_path)):
        res = run_tool("validate_data_dir", d)
        assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
        loaded = validate_data_dir(d)
        assert loaded.utt_ids == sorted(loaded.utt_ids)


# (mutation of the plain dir, file named in the error, line or None, message fragment)
PLAIN_CASES = {
    "unsorted": (
        lambda d: _edit(
            d / "text",
            "spkA-001 hello number 0\nspkA-002 hello number 1\n",
            "spkA-002 hello number 1\nspkA-001 hello number 0\n",
        ),
        "text",
        2,
        "not sorted",
    ),
    "duplicate id": (
        lambda d: _edit(d / "utt2spk", "spkB-001 spkB\n", "spkB-001 spkB\nspkB-001 spkB\n"),
        "utt2spk",
        5,
        "duplicate id 'spkB-001'",
    ),
    "utt missing from text": (
        lambda d: _edit(d / "text", "spkB-001 hello number 3\n", ""),
        "utt2spk",
        4,
        "'spkB-001' is missing from text",
    ),
    "utt in text not in utt2spk": (
        lambda d: _append(d / "text", "spkC-002 extra\n"),
        "text",
        7,
        "'spkC-002' is not in utt2spk",
    ),
    "utt missing from wav.scp": (
        lambda d: d.joinpath("wav.scp").write_text(
            "".join(d.joinpath("wav.scp").read_text().splitlines(True)[1:])
        ),
        "utt2spk",
        1,
        "'spkA-001' is missing from wav.scp",
    ),
    "utt not prefixed by speaker": (
        lambda d: _edit(d / "utt2spk", "spkC-001 spkC", "spkC-001 spkB"),
        "utt2spk",
        6,
        "does not start with its speaker id 'spkB'",
    ),
    "empty line": (
        lambda d: _edit(d / "text", "spkA-003 hello number 2\n", "spkA-003 hello number 2\n\n"),
        "text",
        4,
        "empty line",
    ),
    "no value": (
        lambda d: _edit(d / "text", "spkA-003 hello number 2\n", "spkA-003\n"),
        "text",
        3,
        "'spkA-003' has no value",
    ),
    "bad UTF-8": (
        lambda d: d.joinpath("text.de").write_bytes(
            d.joinpath("text.de").read_bytes().replace(b"nummer 2", b"nummer \xff2")
        ),
        "text.de",
        3,
        "not valid UTF-8",
    ),
    "DOS line ending": (
        lambda d: _edit(d / "utt2dur", "spkA-002 0.25\n", "spkA-002 0.25\r\n"),
        "utt2dur",
        2,
        "carriage return",
    ),
    "missing utt2spk": (
        lambda d: (d / "utt2spk").unlink(),
        "utt2spk",
        None,
        "missing required file",
    ),
    "missing spk2utt": (
        lambda d: (d / "spk2utt").unlink(),
        "spk2utt",
        None,
        "missing required file",
    ),
    "missing text": (lambda d: (d / "text").unlink(), "text", None, "--no-text"),
    "missing wav.scp": (
        lambda d: (d / "wav.scp").unlink(),
        "wav.scp",
        None,
        "wav.scp or feats.scp",
    ),
    "audio file missing": (
        lambda d: (Path(d.parent / "data_audio" / "spkB-002.wav")).unlink(),
        "wav.scp",
        5,
        "spkB-002.wav' of 'spkB-002' does not exist",
    ),
    "pipe input missing": (
        lambda d: _set(d / "wav.scp", "spkA-002", "sox /nonexistent/x.flac -t wav - |"),
        "wav.scp",
        2,
        "/nonexistent/x.flac",
    ),
    "ark missing": (
        lambda d: _set(d / "wav.scp", "spkA-002", "/nonexistent/wav.ark:17"),
        "wav.scp",
        2,
        "ark file '/nonexistent/wav.ark'",
    ),
    "spk2utt inconsistent": (
        lambda d: _edit(d / "spk2utt", "spkB spkB-001 spkB-002", "spkB spkB-002 spkB-001"),
        "spk2utt",
        2,
        "do not match utt2spk",
    ),
    "spk2utt unknown speaker": (
        lambda d: _append(d / "spk2utt", "spkD spkD-001\n"),
        "spk2utt",
        4,
        "speaker 'spkD' is not in utt2spk",
    ),
    "bad gender": (
        lambda d: _edit(d / "spk2gender", "spkB m", "spkB male"),
        "spk2gender",
        2,
        "'male' is not 'm' or 'f'",
    ),
    "speaker missing from spk2gender": (
        lambda d: _edit(d / "spk2gender", "spkC f\n", ""),
        "spk2gender",
        None,
        "'spkC' (from utt2spk) is missing from spk2gender",
    ),
    "extra file with unknown utt": (
        lambda d: _append(d / "utt2task", "spkZ-001 asr\n"),
        "utt2task",
        7,
        "'spkZ-001' is not in utt2spk",
    ),
    "extra speaker file with unknown speaker": (
        lambda d: _append(d / "spk2age", "spkZ 9\n"),
        "spk2age",
        4,
        "'spkZ' is not in utt2spk",
    ),
    "feats.scp with missing ark": (
        lambda d: (d / "feats.scp").write_text(
            lines({u: f"/nonexistent/feats.ark:{i}" for i, u in enumerate(d2u(d))})
        ),
        "feats.scp",
        1,
        "ark file '/nonexistent/feats.ark'",
    ),
}

SEGMENT_CASES = {
    "segment start >= end": (
        lambda d: _edit(d / "segments", "rec1 0.5 1", "rec1 0.5 0.5"),
        "segments",
        2,
        "start 0.5 >= end 0.5",
    ),
    "segment negative start": (
        lambda d: _edit(d / "segments", "rec2 0.1 0.6", "rec2 -0.1 0.6"),
        "segments",
        3,
        "negative segment start",
    ),
    "segment unknown recording": (
        lambda d: _edit(d / "segments", "rec2 0.6 0.95", "rec3 0.6 0.95"),
        "segments",
        4,
        "recording 'rec3', which is not in wav.scp",
    ),
    "segment past the end": (
        lambda d: _edit(d / "segments", "rec2 0.6 0.95", "rec2 0.6 1.5"),
        "segments",
        4,
        "past the end of recording 'rec2' (1 s in reco2dur)",
    ),
    "malformed segment": (
        lambda d: _edit(d / "segments", "rec2 0.6 0.95", "rec2 0.6"),
        "segments",
        4,
        "malformed segment",
    ),
    "reco2dur missing a recording": (
        lambda d: _edit(d / "reco2dur", "rec2 1\n", ""),
        "wav.scp",
        2,
        "'rec2' is missing from reco2dur",
    ),
    "reco2file_and_channel unknown recording": (
        lambda d: _append(d / "reco2file_and_channel", "rec3 rec3 A\n"),
        "reco2file_and_channel",
        3,
        "'rec3' is not in wav.scp",
    ),
}


def _check_error(d: Path, name: str, line: int | None, fragment: str) -> None:
    res = run_tool("validate_data_dir", d)
    assert res.returncode == 1
    assert res.stdout == ""
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    where = f"{d / name}:{line}: " if line is not None else f"{d / name}: "
    assert where in err, err
    assert fragment in err, err
    with pytest.raises(UserError) as exc:
        validate_data_dir(d)
    assert (Path(exc.value.path).name, exc.value.line) == (name, line)


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_malformed_plain_dir(tmp_path: Path, case: str) -> None:
    d = make_datadir(tmp_path)
    mutate, name, line, fragment = PLAIN_CASES[case]
    mutate(d)
    _check_error(d, name, line, fragment)


@pytest.mark.parametrize("case", sorted(SEGMENT_CASES))
def test_malformed_segmented_dir(tmp_path: Path, case: str) -> None:
    d = make_segmented_datadir(tmp_path)
    mutate, name, line, fragment = SEGMENT_CASES[case]
    mutate(d)
    _check_error(d, name, line, fragment)


def test_speakers_must_be_contiguous(tmp_path: Path) -> None:
    # 's10-b' starts with 's1' but sorts among speaker s10's utterances
    d = write_files(
        tmp_path / "d",
        {
            "utt2spk": "s1-a s1\ns10-a s10\ns10-b s1\n",
            "spk2utt": "s1 s1-a s10-b\ns10 s10-a\n",
            "text": "s1-a x\ns10-a y\ns10-b z\n",
            "wav.scp": "s1-a a.wav\ns10-a b.wav\ns10-b c.wav\n",
        },
    )
    with pytest.raises(UserError, match="speaker 's1' are not contiguous") as exc:
        validate_data_dir(d, check_paths=False)
    assert (Path(exc.value.path).name, exc.value.line) == ("utt2spk", 3)


def test_options(tmp_path: Path) -> None:
    d = make_datadir(tmp_path)
    (d / "text").unlink()
    assert run_tool("validate_data_dir", "--no-text", d).returncode == 0
    (d / "wav.scp").unlink()
    assert run_tool("validate_data_dir", "--no-text", d).returncode == 1
    assert run_tool("validate_data_dir", "--no-text", "--no-wav", d).returncode == 0
    (d / "feats.scp").write_text(lines({u: f"/nonexistent.ark:{i}" for i, u in enumerate(d2u(d))}))
    res = run_tool("validate_data_dir", "--no-text", "--no-wav", d)
    assert res.returncode == 1 and "feats.scp:1:" in res.stderr
    assert run_tool("validate_data_dir", "--no-text", "--no-wav", "--no-feats", d).returncode == 0
    # feats.scp alone stands in for wav.scp; missing audio passes with --no-check-paths
    d2 = make_datadir(tmp_path, "d2")
    for p in (tmp_path / "d2_audio").iterdir():
        p.unlink()
    assert run_tool("validate_data_dir", d2).returncode == 1
    assert run_tool("validate_data_dir", "--no-check-paths", d2).returncode == 0


def test_pipe_and_ark_values_with_existing_files_pass(tmp_path: Path) -> None:
    d = make_datadir(tmp_path)
    wav = tmp_path / "data_audio" / "spkA-002.wav"
    ark = tmp_path / "x.ark"
    ark.write_bytes(b"")
    _edit(d / "wav.scp", f"spkA-002 {wav}", f"spkA-002 sox {wav} -t wav - |")
    _edit(
        d / "wav.scp", f"spkA-003 {tmp_path / 'data_audio' / 'spkA-003.wav'}", f"spkA-003 {ark}:12"
    )
    validate_data_dir(d)


def test_usage_error(tmp_path: Path) -> None:
    res = run_tool("validate_data_dir")
    assert res.returncode == 2 and "usage:" in res.stderr
    res = run_tool("validate_data_dir", tmp_path / "nope")
    assert res.returncode == 1 and re.search(r"nope: no such data directory", res.stderr)

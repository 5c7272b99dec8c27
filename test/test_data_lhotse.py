"""Data dir <-> lhotse manifests: fields, extras in custom, audio, exact round trips."""

from __future__ import annotations

import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
from datadir_util import (
    JFK,
    make_datadir,
    make_segmented_datadir,
    read_dir,
    run_tool,
    tone,
    write_files,
)
from lhotse import CutSet, MonoCut, MultiCut, Recording, SupervisionSegment

from soundwave.data.audio import read_audio
from soundwave.data.kaldi import DataDir
from soundwave.data.lhotse_io import cuts_to_datadir, datadir_to_cuts, load_cuts
from soundwave.errors import UserError


def test_plain_dir_fields_and_round_trip(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    cuts = datadir_to_cuts(data)
    assert [c.id for c in cuts] == DataDir.load(data).utt_ids
    cut = cuts["spkB-002"]
    assert isinstance(cut, MonoCut) and cut.start == 0 and cut.duration == pytest.approx(0.4)
    sup = cut.supervisions[0]
    assert (sup.id, sup.recording_id, sup.speaker, sup.gender, sup.language) == (
        "spkB-002",
        "spkB-002",
        "spkB",
        "m",
        "en",
    )
    assert sup.text == "hello number 4"
    assert sup.custom == {"text.de": "hallo nummer 4", "task": "st", "spk2age": "41"}
    assert cut.recording.sources[0].type == "file"
    np.testing.assert_allclose(
        cut.load_audio()[0], read_audio(cut.recording.sources[0].source), atol=1e-6
    )

    out = tmp_path / "back"
    cuts_to_datadir(cuts, out)
    assert read_dir(out) == read_dir(data)  # every file, byte for byte


def test_segmented_dir_round_trip_and_audio(tmp_path: Path) -> None:
    data = make_segmented_datadir(tmp_path)
    cuts = datadir_to_cuts(data)
    cut = cuts["spkY-rec2-000"]
    assert (cut.recording.id, cut.start, cut.duration) == ("rec2", 0.1, pytest.approx(0.5))
    assert cut.supervisions[0].start == 0 and cut.supervisions[0].custom == {
        "text.fr": "segment 2 fr",
        "reco2file_and_channel": "rec2 A",
    }
    wav = DataDir.load(data)["wav.scp"]["rec2"]
    np.testing.assert_allclose(cut.load_audio()[0], read_audio(wav, 0.1, 0.6), atol=1e-6)
    cuts_to_datadir(cuts, tmp_path / "back")
    original = read_dir(data)
    back = read_dir(tmp_path / "back")
    assert (
        back.pop("utt2dur")
        == "spkX-rec1-000 0.5\nspkX-rec1-001 0.5\nspkY-rec2-000 0.5\nspkY-rec2-001 0.35\n"
    )
    assert back == original


def test_pipe_and_ark_sources(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    sf.write(audio, tone(0.5, 300), 16000, subtype="PCM_16")
    pcm = np.round(tone(0.25, 700) * 32767).astype(np.int16)
    kaldiio.save_ark(
        str(tmp_path / "wav.ark"), {"s1-b": (16000, pcm)}, scp=str(tmp_path / "ark.scp")
    )
    ark_value = (tmp_path / "ark.scp").read_text().split()[1]
    data = write_files(
        tmp_path / "d",
        {
            "wav.scp": f"s1-a sox {audio} -t wav - |\ns1-b {ark_value}\n",
            "utt2spk": "s1-a s1\ns1-b s1\n",
            "spk2utt": "s1 s1-a s1-b\n",
            "text": "s1-a one\ns1-b two\n",
        },
    )
    cuts = datadir_to_cuts(data)
    srcs = {c.id: c.recording.sources[0] for c in cuts}
    assert srcs["s1-a"].type == srcs["s1-b"].type == "command"
    assert "soundwave.bin.ark_to_wav" in srcs["s1-b"].source
    np.testing.assert_allclose(cuts["s1-a"].load_audio()[0], read_audio(str(audio)), atol=1e-6)
    np.testing.assert_array_equal(cuts["s1-b"].load_audio()[0], pcm / np.float32(32768))
    assert cuts["s1-b"].duration == pytest.approx(0.25)
    back = cuts_to_datadir(cuts, tmp_path / "back")
    assert back["wav.scp"] == DataDir.load(data)["wav.scp"]  # pipe and ark spec restored


def test_durations_without_running_commands(tmp_path: Path) -> None:
    # with the rate given, a pipe's length comes from utt2dur: the command never runs
    data = write_files(
        tmp_path / "d",
        {
            "wav.scp": "s1-a false |\n",
            "utt2spk": "s1-a s1\n",
            "spk2utt": "s1 s1-a\n",
            "utt2dur": "s1-a 2.5\n",
        },
    )
    cuts = datadir_to_cuts(data, sampling_rate=8000)
    assert (cuts["s1-a"].recording.num_samples, cuts["s1-a"].duration) == (20000, 2.5)
    with pytest.raises(UserError, match="command failed with exit status 1: false"):
        datadir_to_cuts(data)


def test_multichannel_language_and_prefix(tmp_path: Path) -> None:
    data = write_files(
        tmp_path / "d",
        {
            "wav.scp": f"jfk-1961 {JFK}\n",
            "utt2spk": "jfk-1961 jfk\n",
            "spk2utt": "jfk jfk-1961\n",
            "utt2lang": "jfk-1961 en-US\n",
        },
    )
    (cut,) = datadir_to_cuts(data)
    assert isinstance(cut, MultiCut) and cut.channel == [0, 1]
    assert cut.supervisions[0].language == "en-US" and cut.supervisions[0].text is None
    np.testing.assert_allclose(
        cut.load_audio().mean(axis=0), read_audio(str(JFK), target_sr=None), atol=1e-6
    )
    back = cuts_to_datadir([cut], tmp_path / "back")
    assert back["utt2lang"] == {"jfk-1961": "en-US"} and "text" not in back

    rec = Recording.from_file(str(JFK), recording_id="r1")
    sup = SupervisionSegment("utt1", "r1", 0, 2.0, text="and so", speaker="S1", language="de")
    foreign = [MultiCut("utt1", 0, 2.0, [0, 1], recording=rec, supervisions=[sup])]
    with pytest.raises(UserError, match="use --prefix-spk-id"):
        cuts_to_datadir(foreign)
    d = cuts_to_datadir(foreign, prefix_spk_id=True)
    assert d.utt2spk == {"S1-utt1": "S1"} and d["utt2lang"] == {"S1-utt1": "de"}
    assert d["segments"] == {"S1-utt1": "r1 0 2"} and d["reco2dur"] == {"r1": "11"}


def test_cli_round_trip(tmp_path: Path) -> None:
    data = make_datadir(tmp_path)
    res = run_tool("datadir_to_lhotse", data, tmp_path / "manifests" / "train")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "manifests").iterdir())
    assert names == [
        "train_cuts.jsonl.gz",
        "train_recordings.jsonl.gz",
        "train_supervisions.jsonl.gz",
    ]
    assert len(CutSet.from_file(tmp_path / "manifests" / "train_cuts.jsonl.gz")) == 6
    # a directory of recordings + supervisions (no cuts) converts back too
    only = tmp_path / "only"
    only.mkdir()
    for kind in ("recordings", "supervisions"):
        shutil.copy(tmp_path / "manifests" / f"train_{kind}.jsonl.gz", only)
    assert read_dir(
        cuts_to_datadir(load_cuts(only), tmp_path / "b1") and tmp_path / "b1"
    ) == read_dir(data)
    res = run_tool("lhotse_to_datadir", tmp_path / "manifests" / "train", tmp_path / "back")
    assert res.returncode == 0, res.stderr
    assert read_dir(tmp_path / "back") == read_dir(data)
    with pytest.raises(UserError, match="no such manifest"):
        load_cuts(tmp_path / "nothing")
    with pytest.raises(UserError, match="expected a cuts manifest, found a RecordingSet"):
        load_cuts(only / "train_recordings.jsonl.gz")

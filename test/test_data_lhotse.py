"""Data dir <-> lhotse manifests: fields, extras in custom, audio, exact round trips."""

from __future__ import annotations

import shutil
import subprocess
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
    with pytest.raises(UserError, match="expected a cuts manifest, and this line is a recording"):
        load_cuts(only / "train_recordings.jsonl.gz")


def _jfk_dir(root: Path, audio: Path = JFK) -> Path:
    return write_files(
        root,
        {"wav.scp": f"jfk-1 {audio}\n", "utt2spk": "jfk-1 jfk\n", "spk2utt": "jfk jfk-1\n"},
    )


def _cli(main, argv: list[str], capsys) -> str:
    """Run a soundwave.bin entry point that must fail; returns its one stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


WHISPER_OUTPUT = ["-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le", "-ar", "16000", "-"]


def _ffmpeg_s16(path: Path, *args: str) -> np.ndarray:
    """openai-whisper's ffmpeg decoding (16 kHz mono 16-bit), with extra filter arguments."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-threads", "0", "-i", str(path), *args, *WHISPER_OUTPUT],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@needs_ffmpeg
def test_stereo_mix_manifest_is_lazy_and_averages(tmp_path: Path) -> None:
    """--channel mix (default) keeps a 16 kHz 16-bit stereo file as a file-backed MultiCut
    whose features are those of the channel average (rounded to 16 bits, as ffmpeg's)."""
    from soundwave.bin import make_manifests
    from soundwave.features.fbank import to_mono_16k, whisper_fbank

    wav = tmp_path / "s16k.wav"
    convert = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(JFK), "-ar", "16000"]
    subprocess.run([*convert, "-c:a", "pcm_s16le", str(wav)], check=True)
    out = tmp_path / "cuts.jsonl.gz"
    make_manifests.main(["--data-dir", str(_jfk_dir(tmp_path / "d", wav)), "--out", str(out)])
    (cut,) = CutSet.from_file(out)
    assert isinstance(cut, MultiCut) and cut.sampling_rate == 16000
    assert cut.recording.sources[0].type == "file"
    fbank = whisper_fbank(80)
    (mono,) = to_mono_16k(CutSet.from_cuts([cut.to_mono(mono_downmix=False)[0]]))
    both = cut.load_audio()
    np.testing.assert_allclose(
        fbank.extract(both, 16000), fbank.extract(_ffmpeg_s16(wav), 16000), atol=1e-6
    )
    assert not np.allclose(both[0], both[1])  # really two different channels
    assert mono.channel == 0


@needs_ffmpeg
def test_channel_choice_and_errors(tmp_path: Path, capsys) -> None:
    from soundwave.bin import make_manifests

    stereo = _jfk_dir(tmp_path / "s")
    out = tmp_path / "right.jsonl.gz"
    make_manifests.main(["--data-dir", str(stereo), "--out", str(out), "--channel", "right"])
    (cut,) = CutSet.from_file(out)
    # 44.1 kHz: ffmpeg converts the right channel alone; the cut keeps the utterance id
    assert isinstance(cut, MonoCut) and cut.id == "jfk-1"
    assert cut.recording.sources[0].type == "command"
    np.testing.assert_array_equal(cut.load_audio()[0], _ffmpeg_s16(JFK, "-af", "pan=mono|c0=c1"))

    mono_wav = tmp_path / "mono.wav"
    sf.write(mono_wav, sf.read(JFK)[0].mean(axis=1)[:16000], 44100)
    mono = _jfk_dir(tmp_path / "m", mono_wav)
    bad = tmp_path / "bad.jsonl.gz"
    err = _cli(
        make_manifests.main,
        ["--data-dir", str(mono), "--out", str(bad), "--channel", "1"],
        capsys,
    )
    assert "jfk-1" in err and "channel 1" in err
    err = _cli(
        make_manifests.main,
        ["--data-dir", str(stereo), "--out", str(bad), "--channel", "2"],
        capsys,
    )
    assert "jfk-1" in err and "[0, 1]" in err
    err = _cli(
        make_manifests.main,
        ["--data-dir", str(stereo), "--out", str(bad), "--channel", "middle"],
        capsys,
    )
    assert "--channel" in err and "middle" in err
    # mono audio has no left: an error, not its one channel (a data dir unlike what was meant)
    err = _cli(
        make_manifests.main,
        ["--data-dir", str(mono), "--out", str(bad), "--channel", "left"],
        capsys,
    )
    assert "--channel left" in err and "is mono" in err
    assert not bad.exists() and not list(tmp_path.glob("bad*"))
    make_manifests.main(["--data-dir", str(mono), "--out", str(bad), "--channel", "0"])
    assert CutSet.from_file(bad)[0].channel == 0


def test_feature_storage_precision_and_safe_rerun(tmp_path: Path, capsys) -> None:
    """Stored features default to a fine tick (the default lilcom tick rounded to 1/32);
    'lilcom' stays available by name; a failing rerun leaves the finished archive alone."""
    from soundwave.bin import compute_fbank, make_manifests
    from soundwave.features.fbank import whisper_fbank

    manifest = tmp_path / "cuts.jsonl.gz"
    make_manifests.main(["--data-dir", str(_jfk_dir(tmp_path / "d")), "--out", str(manifest)])
    exact = whisper_fbank(80).extract(CutSet.from_file(manifest)[0].load_audio(), 16000)
    errors = {}
    for kind in ("lilcom-fine", "lilcom"):
        args = ["--cuts", str(manifest), "--storage", str(tmp_path / kind), "--no-progress"]
        compute_fbank.main(
            [*args, "--out-cuts", str(tmp_path / f"{kind}.jsonl.gz"), "--storage-type", kind]
        )
        (cut,) = CutSet.from_file(tmp_path / f"{kind}.jsonl.gz")
        assert cut.features.storage_path == str(tmp_path / f"{kind}.lca")
        errors[kind] = np.abs(cut.load_features() - exact).max()
    assert errors["lilcom-fine"] <= 2.0**-13 < 2.0**-7 < errors["lilcom"] <= 2.0**-6

    archive, before = tmp_path / "lilcom-fine.lca", (tmp_path / "lilcom-fine.lca").read_bytes()
    copy = tmp_path / "copy.flac"
    shutil.copy(JFK, copy)
    two = write_files(
        tmp_path / "two",
        {
            "wav.scp": f"jfk-1 {JFK}\njfk-2 {copy}\n",
            "utt2spk": "jfk-1 jfk\njfk-2 jfk\n",
            "spk2utt": "jfk jfk-1 jfk-2\n",
        },
    )
    make_manifests.main(["--data-dir", str(two), "--out", str(tmp_path / "broken.jsonl.gz")])
    copy.unlink()
    err = _cli(
        compute_fbank.main,
        [
            "--cuts",
            str(tmp_path / "broken.jsonl.gz"),
            "--storage",
            str(tmp_path / "lilcom-fine"),
            "--out-cuts",
            str(tmp_path / "lilcom-fine.jsonl.gz"),
            "--no-progress",
        ],
        capsys,
    )
    assert "'jfk-2'" in err
    assert archive.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("*lilcom-fine*")) == [
        "lilcom-fine.jsonl.gz",
        "lilcom-fine.lca",
    ]

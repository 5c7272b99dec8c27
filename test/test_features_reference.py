"""The front end equals openai-whisper's ``log_mel_spectrogram(pad_or_trim(load_audio(f)))``.

Inputs: the real 44.1 kHz stereo recording ``shared/data/real/jfk.flac`` and conversions of
it (rates, channel counts and layouts, sample formats, codecs, a quiet level).  Both feature
paths are checked, as the batches give them to the model (:func:`batch_features`): on the
fly, and stored (``make_manifests`` -> ``compute_fbank``), each made into the 30 s window
the way the ``pad30`` encoder makes it (tail frames, then silence), and as the bare frames
that ``variable`` encoding uses.  Recordings that are not 16 kHz 16-bit PCM are converted
by ffmpeg with openai-whisper's own command, so no case is exempt.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet
from models_util import whisper_dir

from soundwave.bin import compute_fbank, make_manifests
from soundwave.data.collate import batch_features
from soundwave.data.lhotse_io import datadir_to_cuts
from soundwave.features.fbank import TAIL_FRAMES, TAIL_KEY, to_mono_16k, whisper_fbank
from soundwave.models.encoder import (
    WhisperAudioEncoder,
    append_tails,
    pad_window,
    run_whisper_encoder,
)

JFK = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "jfk.flac"
whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed (dev extra)")
pytestmark = [
    pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is absent"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed"),
]

MEAN_TOL, P99_TOL = 0.002, 0.01
# read as they are; every other input goes through ffmpeg
FAST_PATH = {"wav16k_mono_s16", "wav16k_stereo_s16_quiet"}


def _ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)],
        check=True,
    )
    return dst


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    x, sr = sf.read(JFK, dtype="float32")  # (N, 2)
    out = {"flac44k_stereo_s24": JFK}
    out["wav16k_mono_s16"] = _ffmpeg(
        JFK, d / "m16.wav", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"
    )
    # 40 dB down: the 16-bit rounding of ffmpeg's output (and of its stereo average) shows
    out["wav16k_stereo_s16_quiet"] = _ffmpeg(
        JFK, d / "s16q.wav", "-ar", "16000", "-af", "volume=0.01", "-c:a", "pcm_s16le"
    )
    out["wav16k_mono_float_quiet"] = _ffmpeg(
        JFK, d / "m16fq.wav", "-ac", "1", "-ar", "16000", "-af", "volume=0.01", "-c:a", "pcm_f32le"
    )
    out["wav8k_stereo_s16"] = _ffmpeg(JFK, d / "s8.wav", "-ar", "8000", "-c:a", "pcm_s16le")
    for name, subtype in (("wav44k_stereo_s24", "PCM_24"), ("wav44k_stereo_float", "FLOAT")):
        sf.write(d / f"{name}.wav", x, sr, subtype=subtype)
        out[name] = d / f"{name}.wav"
    sf.write(d / "mono.flac", x.mean(axis=1), sr, subtype="PCM_16")
    out["flac44k_mono_s16"] = d / "mono.flac"
    sf.write(d / "stereo.mp3", x, sr, format="MP3")
    out["mp3_44k_stereo"] = d / "stereo.mp3"
    left, right = x[:, 0], x[:, 1]
    four = np.stack([left, right, 0.5 * (left + right), 0.8 * right - 0.3 * left], axis=1)
    sf.write(d / "four.wav", four, sr, subtype="PCM_24")
    out["wav44k_4ch_s24"] = d / "four.wav"
    # 5.1 (FL FR FC LFE BL BR): ffmpeg's downmix drops the LFE and weights the others
    six = np.stack([left, right, 0.5 * (left + right), 0.9 * left, 0.6 * right, -0.4 * left], 1)
    sf.write(d / "six.wav", six, sr, subtype="PCM_24")
    out["wav44k_5.1_s24"] = d / "six.wav"
    return out


def reference(path: Path) -> np.ndarray:
    """openai-whisper's (80, 3000) log-mel of a file."""
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(str(path)))).numpy()


def window(feats: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """(K, 80) features and their (3, 80) tail -> the encoder's (80, 3000) pad30 window."""
    x = torch.from_numpy(np.ascontiguousarray(feats.T))[None]
    x, ends = append_tails(
        torch.nn.functional.pad(x, (0, TAIL_FRAMES)),
        torch.tensor([x.shape[-1]]),
        torch.from_numpy(np.ascontiguousarray(tail.T))[None],
    )
    return pad_window(x, ends)[0].numpy()


def assert_close_to_reference(got: np.ndarray, want: np.ndarray, name: str) -> None:
    d = np.abs(got - want)
    mean, p99 = float(d.mean()), float(np.quantile(d, 0.99))
    assert mean <= MEAN_TOL and p99 <= P99_TOL, f"{name}: mean |d| {mean:.5f}, p99 {p99:.5f}"


def datadir(root: Path, audio: Path) -> Path:
    root.mkdir(parents=True)
    (root / "wav.scp").write_text(f"jfk-1 {audio}\n")
    (root / "utt2spk").write_text("jfk-1 jfk\n")
    (root / "spk2utt").write_text("jfk jfk-1\n")
    (root / "text").write_text("jfk-1 and so my fellow americans\n")
    return root


def stored_cuts(data: Path, tmp_path: Path) -> tuple[CutSet, CutSet]:
    """The manifest of a data dir (audio) and the same cuts with stored features."""
    manifest, stored = tmp_path / "cuts.jsonl.gz", tmp_path / "feats.jsonl.gz"
    make_manifests.main(["--data-dir", str(data), "--out", str(manifest)])
    args = ["--cuts", str(manifest), "--out-cuts", str(stored), "--storage", str(tmp_path / "f")]
    compute_fbank.main([*args, "--no-progress"])
    return CutSet.from_file(manifest), CutSet.from_file(stored)


def one(cuts: CutSet, extractor=None) -> tuple[np.ndarray, np.ndarray]:
    """(K, 80) features and (3, 80) tail of the first cut, as a batch holds them."""
    feats, lens, tails = batch_features(cuts, extractor)
    return feats[0, : int(lens[0])].numpy(), tails[0].numpy()


@pytest.mark.parametrize(
    "name",
    [
        "flac44k_stereo_s24",
        "wav16k_mono_s16",
        "wav16k_stereo_s16_quiet",
        "wav16k_mono_float_quiet",
        "wav8k_stereo_s16",
        "wav44k_stereo_s24",
        "wav44k_stereo_float",
        "flac44k_mono_s16",
        "mp3_44k_stereo",
        "wav44k_4ch_s24",
        "wav44k_5.1_s24",
    ],
)
def test_on_the_fly_and_stored_equal_openai_whisper(name, inputs, tmp_path):
    want = reference(inputs[name])
    audio, stored = stored_cuts(datadir(tmp_path / "data", inputs[name]), tmp_path)
    assert (audio[0].recording.sources[0].type == "file") == (name in FAST_PATH)
    from_store, store_tail = one(stored)
    on_the_fly, tail = one(audio, whisper_fbank(80))
    assert on_the_fly.shape == from_store.shape == (stored[0].num_frames, 80)
    np.testing.assert_allclose(from_store, on_the_fly, atol=2.0**-12)
    np.testing.assert_allclose(store_tail, tail, atol=2.0**-12)
    for label, got, got_tail in (
        ("on the fly", on_the_fly, tail),
        ("stored", from_store, store_tail),
    ):
        assert_close_to_reference(window(got, got_tail), want, f"{name} {label} pad30")
        assert_close_to_reference(got.T, want[:, : len(got)], f"{name} {label} variable")


def test_frames_and_tail_are_whisper_frames_exactly(inputs, tmp_path):
    """Audio cut off mid-word (not ending in zeros): every frame of the 30 s window, the
    three past the end included, is the reference frame."""
    x, sr = sf.read(inputs["wav16k_mono_s16"], dtype="int16")
    sf.write(tmp_path / "cut.wav", x[: 16000 * 2 + 1234], sr, subtype="PCM_16")
    want = reference(tmp_path / "cut.wav")
    (cut,) = to_mono_16k(datadir_to_cuts(datadir(tmp_path / "d", tmp_path / "cut.wav")))
    feats, tail = whisper_fbank(80).frames_and_tail(cut.load_audio(), 16000)
    k = len(feats)
    np.testing.assert_allclose(feats.T, want[:, :k], atol=1e-5)
    np.testing.assert_allclose(tail.T, want[:, k : k + TAIL_FRAMES], atol=1e-5)
    silence = want[:, k + TAIL_FRAMES :]
    assert np.abs(tail.T - silence[:, :TAIL_FRAMES]).max() > 0.5  # the tail is not silence
    np.testing.assert_allclose(window(feats, tail), want, atol=1e-5)


def test_pad30_encoder_output_equals_whisper_window_stored_and_on_the_fly(inputs, tmp_path):
    """The pad30 encoder, fed a batch (two utterances that end mid-speech, of different
    lengths), gives each the frames that Whisper's encoder gives on openai-whisper's own
    log-mel window; without the tails it does not."""
    x, sr = sf.read(inputs["wav16k_mono_s16"], dtype="int16")
    data = tmp_path / "data"
    data.mkdir()
    wavs = {"jfk-1": 16000 * 2 + 1234, "jfk-2": 16000 * 4 + 77}
    for utt, n in wavs.items():
        sf.write(tmp_path / f"{utt}.wav", x[:n], sr, subtype="PCM_16")
    (data / "wav.scp").write_text("".join(f"{u} {tmp_path / u}.wav\n" for u in wavs))
    (data / "utt2spk").write_text("".join(f"{u} jfk\n" for u in wavs))
    (data / "spk2utt").write_text("jfk jfk-1 jfk-2\n")
    audio, stored = stored_cuts(data, tmp_path)
    # the whole window's frames (as the released model keeps them), those past the end too
    encoder = WhisperAudioEncoder(whisper_dir(), "pad30", full_window=True)
    want = {
        u: run_whisper_encoder(
            encoder.encoder, torch.from_numpy(reference(tmp_path / f"{u}.wav"))[None], None
        )[0]
        for u in wavs
    }
    for cuts, extractor in ((audio, whisper_fbank(80)), (stored, None)):
        feats, lens, tails = batch_features(cuts, extractor)
        assert tails is not None and tails.shape == (2, TAIL_FRAMES, 80)
        got, out_lens = encoder(feats.transpose(1, 2), lens, tails.transpose(1, 2))
        bare, _ = encoder(feats.transpose(1, 2), lens)
        assert out_lens.tolist() == [1500, 1500]
        for i, cut in enumerate(cuts):
            torch.testing.assert_close(got[i], want[cut.id], atol=2e-4, rtol=0)
            assert (bare[i] - want[cut.id]).abs().max() > 0.01  # the tail frames matter


def test_conversion_needs_ffmpeg_one_line(inputs, tmp_path, monkeypatch, capsys):
    """Without ffmpeg, a recording that needs conversion is one clear line and exit 1; a
    16 kHz 16-bit file still works."""
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there: no ffmpeg
    data8k = datadir(tmp_path / "d8", inputs["wav8k_stereo_s16"])
    with pytest.raises(SystemExit) as exit_info:
        make_manifests.main(["--data-dir", str(data8k), "--out", str(tmp_path / "c8.jsonl.gz")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "8000 Hz" in err and "ffmpeg" in err and "jfk-1" in err
    assert not (tmp_path / "c8.jsonl.gz").exists()
    ok = tmp_path / "c16.jsonl.gz"
    make_manifests.main(
        ["--data-dir", str(datadir(tmp_path / "d16", inputs["wav16k_mono_s16"])), "--out", str(ok)]
    )
    assert CutSet.from_file(ok)[0].recording.sources[0].type == "file"


def test_segments_of_a_converted_recording(inputs, tmp_path, monkeypatch):
    """Segments of an 8 kHz recording: ffmpeg runs once for all of them in compute_fbank,
    and each segment's features are those of openai-whisper's audio cut at its times."""
    from lhotse.audio import source

    spans = {"jfk-a": (0.5, 3.25), "jfk-b": (3.25, 7.0), "jfk-c": (7.0, 10.95)}
    data = datadir(tmp_path / "data", inputs["wav8k_stereo_s16"])
    (data / "segments").write_text("".join(f"{u} jfk-1 {s} {e}\n" for u, (s, e) in spans.items()))
    (data / "utt2spk").write_text("".join(f"{u} jfk\n" for u in spans))
    (data / "spk2utt").write_text("jfk " + " ".join(spans) + "\n")
    (data / "text").unlink()
    runs = []
    run = source.run

    def counted(*args, **kwargs):
        runs.append(args[0])
        return run(*args, **kwargs)

    monkeypatch.setattr(source, "run", counted)
    _, stored = stored_cuts(data, tmp_path)
    assert len(runs) == 1 and runs[0].startswith("ffmpeg ")
    audio = whisper.load_audio(str(inputs["wav8k_stereo_s16"]))
    for cut in stored:
        start, end = spans[cut.id]
        piece = audio[round(start * 16000) : round(end * 16000)]
        want = whisper.log_mel_spectrogram(whisper.pad_or_trim(piece)).numpy()
        feats = cut.load_features()
        assert_close_to_reference(window(feats, cut.load_custom(TAIL_KEY)), want, cut.id)

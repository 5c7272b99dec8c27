"""The front end equals openai-whisper's ``log_mel_spectrogram(pad_or_trim(load_audio(f)))``.

Inputs: the real 44.1 kHz stereo recording ``shared/data/real/jfk.flac`` and conversions of
it (rates, channel counts, sample formats, codecs).  Both feature paths are checked: on the
fly (lhotse ``OnTheFlyFeatures``) and stored (``make_manifests`` -> ``compute_fbank``), each
padded to the 30 s window by the encoder's own ``pad_window``.  The tolerances allow for
lhotse's resampler differing from ffmpeg's; at 16 kHz the real frames agree to float error.

For more than two channels openai-whisper's ffmpeg applies a surround downmix (LFE dropped,
centre and rear weighted by the guessed layout); our front end averages the channels, so
there the reference is the average of ffmpeg's per-channel decodes.
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
from lhotse.dataset import OnTheFlyFeatures

from soundwave.bin import compute_fbank, make_manifests
from soundwave.data.lhotse_io import datadir_to_cuts
from soundwave.features.fbank import to_mono_16k, whisper_fbank
from soundwave.models.encoder import pad_window

JFK = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "jfk.flac"
whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed (dev extra)")
pytestmark = [
    pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is absent"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed"),
]

MEAN_TOL, P99_TOL = 0.002, 0.01
# 8 kHz input: lhotse's resampler and ffmpeg's put the band edge (4 kHz) at slightly
# different places: the mel bins there (about 3.5-4.5 kHz) exceed the p99 target.
P99_TOL_8K = 0.05


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
    return out


def reference(path: Path) -> np.ndarray:
    """openai-whisper's (80, 3000) log-mel; for > 2 channels, of the channel average."""
    channels = sf.info(str(path)).channels
    if channels <= 2:
        audio = whisper.load_audio(str(path))
    else:  # whisper.load_audio's ffmpeg command, one channel at a time
        audio = np.mean(
            [
                np.frombuffer(
                    subprocess.run(
                        [
                            "ffmpeg",
                            "-nostdin",
                            "-threads",
                            "0",
                            "-i",
                            str(path),
                            "-af",
                            f"pan=mono|c0=c{i}",
                            "-f",
                            "s16le",
                            "-ac",
                            "1",
                            "-acodec",
                            "pcm_s16le",
                            "-ar",
                            "16000",
                            "-",
                        ],
                        capture_output=True,
                        check=True,
                    ).stdout,
                    np.int16,
                ).astype(np.float32)
                / 32768.0
                for i in range(channels)
            ],
            axis=0,
        )
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(audio)).numpy()


def window(feats: np.ndarray) -> np.ndarray:
    """(K, 80) variable-length features -> the encoder's (80, 3000) pad30 window."""
    x = torch.from_numpy(np.ascontiguousarray(feats.T))[None]
    return pad_window(x, torch.tensor([x.shape[-1]]))[0].numpy()


def assert_close_to_reference(got: np.ndarray, want: np.ndarray, name: str) -> None:
    d = np.abs(got - want)
    mean, p99 = float(d.mean()), float(np.quantile(d, 0.99))
    p99_tol = P99_TOL_8K if "8k" in name else P99_TOL
    assert mean <= MEAN_TOL and p99 <= p99_tol, f"{name}: mean |d| {mean:.5f}, p99 {p99:.5f}"


def datadir(root: Path, audio: Path) -> Path:
    root.mkdir(parents=True)
    (root / "wav.scp").write_text(f"jfk-1 {audio}\n")
    (root / "utt2spk").write_text("jfk-1 jfk\n")
    (root / "spk2utt").write_text("jfk jfk-1\n")
    (root / "text").write_text("jfk-1 and so my fellow americans\n")
    return root


NAMES = [
    "flac44k_stereo_s24",
    "wav16k_mono_s16",
    "wav8k_stereo_s16",
    "wav44k_stereo_s24",
    "wav44k_stereo_float",
    "flac44k_mono_s16",
    "mp3_44k_stereo",
    "wav44k_4ch_s24",
]


@pytest.mark.parametrize("name", NAMES)
def test_on_the_fly_and_stored_equal_openai_whisper(name, inputs, tmp_path):
    want = reference(inputs[name])
    data = datadir(tmp_path / "data", inputs[name])
    manifest, stored = tmp_path / "cuts.jsonl.gz", tmp_path / "feats.jsonl.gz"
    make_manifests.main(["--data-dir", str(data), "--out", str(manifest)])
    compute_fbank.main(
        [
            "--cuts",
            str(manifest),
            "--out-cuts",
            str(stored),
            "--storage",
            str(tmp_path / "feats"),
            "--no-progress",
        ]
    )
    (cut,) = CutSet.from_file(stored)
    from_store = cut.load_features()
    feats, lens = OnTheFlyFeatures(whisper_fbank(80))(CutSet.from_file(manifest))
    on_the_fly = feats[0, : int(lens[0])].numpy()
    assert on_the_fly.shape == from_store.shape == (cut.num_frames, 80)
    np.testing.assert_allclose(from_store, on_the_fly, atol=2.0**-12)
    for label, got in (("on the fly", on_the_fly), ("stored", from_store)):
        assert_close_to_reference(window(got), want, f"{name} {label} pad30")
        assert_close_to_reference(got.T, want[:, : len(got)], f"{name} {label} variable")


def test_16k_mono_frames_are_whisper_frames_exactly(inputs):
    """Without resampling, every stored frame is the reference frame (zeros after the audio,
    the window's clamp); only the two or three frames past the end become silence."""
    want = reference(inputs["wav16k_mono_s16"])
    (cut,) = to_mono_16k(
        datadir_to_cuts(
            datadir(Path(inputs["wav16k_mono_s16"]).parent / "d16", inputs["wav16k_mono_s16"])
        )
    )
    feats = whisper_fbank(80).extract(cut.load_audio(), 16000)
    k = len(feats)
    np.testing.assert_allclose(feats.T, want[:, :k], atol=1e-4)
    got = window(feats)
    np.testing.assert_allclose(got[:, k + 3 :], want[:, k + 3 :], atol=1e-6)
    assert np.abs(got - want)[:, k : k + 3].mean() > 0  # the frames lhotse has no room for

"""read_audio over paths, pipes and ark entries, with segments, channels and resampling."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
from datadir_util import JFK
from scipy.signal import resample_poly

from soundwave.data.audio import WavSource, audio_info, read_audio
from soundwave.errors import UserError

pytestmark = pytest.mark.skipif(not JFK.is_file(), reason="needs the shared jfk.flac")


@pytest.fixture(scope="module")
def jfk() -> tuple[np.ndarray, int]:
    x, sr = sf.read(JFK, dtype="float32")
    return x, sr


def test_parse_wav_scp_values() -> None:
    assert WavSource.parse("/a/b.flac") == WavSource("file", "/a/b.flac")
    assert WavSource.parse("sox a.flac -t wav - |") == WavSource("pipe", "sox a.flac -t wav -")
    assert WavSource.parse("data/wav.ark:1234") == WavSource("ark", "data/wav.ark", 1234)
    assert WavSource.parse("sox 'my file.wav' -t wav - |").files() == ["my file.wav"]
    assert WavSource.parse("data/wav.ark:1234").value == "data/wav.ark:1234"


def test_path_mono_average_resampled(jfk) -> None:
    x, sr = jfk
    assert (sr, x.shape) == (44100, (485100, 2))
    y = read_audio(str(JFK))
    assert y.dtype == np.float32 and y.shape == (176000,)  # 11 s at 16 kHz
    expected = resample_poly(x.mean(axis=1), 160, 441)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert 0.05 < np.sqrt(np.mean(y**2)) < 0.5  # real speech, not silence


def test_channels_and_native_rate(jfk) -> None:
    x, _ = jfk
    left = read_audio(str(JFK), target_sr=None, channel=0)
    right = read_audio(str(JFK), target_sr=None, channel=1)
    np.testing.assert_array_equal(left, x[:, 0])
    np.testing.assert_array_equal(right, x[:, 1])
    assert not np.array_equal(left, right)
    np.testing.assert_allclose(read_audio(str(JFK), target_sr=None), x.mean(axis=1), atol=1e-7)
    with pytest.raises(UserError, match="no channel 2"):
        read_audio(str(JFK), channel=2)


def test_segment(jfk) -> None:
    x, _ = jfk
    seg = read_audio(str(JFK), start=1.0, end=2.5, target_sr=None, channel=0)
    np.testing.assert_array_equal(seg, x[44100:110250, 0])
    assert read_audio(str(JFK), start=10.0, end=11.01).shape == (16000,)  # overshoot truncated
    with pytest.raises(UserError, match="past the end of the audio"):
        read_audio(str(JFK), start=10.0, end=12.0)
    with pytest.raises(UserError, match="after the end of the audio"):
        read_audio(str(JFK), start=11.5, end=12.0)


def test_pipe(jfk) -> None:
    y = read_audio(f"sox {JFK} -t wav - |")
    np.testing.assert_allclose(y, read_audio(str(JFK)), atol=1e-6)
    seg = read_audio(f"sox {JFK} -t wav - |", start=2.0, end=3.0, target_sr=8000)
    np.testing.assert_allclose(
        seg, read_audio(str(JFK), start=2.0, end=3.0, target_sr=8000), atol=1e-6
    )
    with pytest.raises(
        UserError, match=r"command failed with exit status 2: sox /nonexistent.flac"
    ):
        read_audio("sox /nonexistent.flac -t wav - |")
    with pytest.raises(UserError, match="command produced no audio: true"):
        read_audio("true |")


def test_ark(tmp_path: Path, jfk) -> None:
    x, sr = jfk
    pcm = np.round(x[:, 0] * 32767).astype(np.int16)
    kaldiio.save_ark(
        str(tmp_path / "wav.ark"),
        {"u1": (sr, pcm), "u2": (sr, pcm[:sr])},
        scp=str(tmp_path / "wav.scp"),
    )
    scp = dict(line.split() for line in (tmp_path / "wav.scp").read_text().splitlines())
    y = read_audio(scp["u1"], target_sr=None)
    np.testing.assert_array_equal(y, pcm.astype(np.float32) / 32768)
    assert read_audio(scp["u2"]).shape == (16000,)
    assert audio_info(scp["u2"]).num_samples == sr
    kaldiio.save_ark(str(tmp_path / "feats.ark"), {"u1": np.zeros((3, 4), np.float32)})
    with pytest.raises(UserError, match="is a matrix, not audio"):
        read_audio(f"{tmp_path / 'feats.ark'}:3")
    with pytest.raises(UserError, match="ark file not found"):
        read_audio(f"{tmp_path / 'none.ark'}:3")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        read_audio(str(tmp_path / "none.wav"))
    assert exc.value.path == str(tmp_path / "none.wav") and "not found" in exc.value.message
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(UserError, match="cannot read audio"):
        read_audio(str(tmp_path / "junk.wav"))
    info = audio_info(str(JFK))
    assert (info.sampling_rate, info.num_samples, info.num_channels) == (44100, 485100, 2)
    assert info.duration == pytest.approx(11.0)

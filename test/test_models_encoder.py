"""The Whisper encoder wrapper: modes, lengths, batching, chunking, dtypes, freezing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_util import feats, whisper_dir
from transformers import WhisperFeatureExtractor, WhisperModel

from soundwave.errors import UserError
from soundwave.models.encoder import WhisperAudioEncoder, pad_window, whisper_silence_value


def test_variable_full_window_equals_hf_encoder():
    enc = WhisperAudioEncoder(whisper_dir(), "variable")
    ref = WhisperModel.from_pretrained(whisper_dir()).encoder.eval()
    x, lens = feats([3000, 3000], seed=1)
    out, out_lens = enc(x, lens)
    assert out_lens.tolist() == [1500, 1500]
    torch.testing.assert_close(out, ref(x).last_hidden_state, rtol=0, atol=1e-5)


@pytest.mark.parametrize("mode", ["variable", "pad30"])
def test_lengths_and_batch_equals_single(mode):
    enc = WhisperAudioEncoder(whisper_dir(), mode)
    lengths = [257, 200, 1, 2, 3]
    x, lens = feats(lengths, seed=2)
    out, out_lens = enc(x, lens)
    expected = [(t + 1) // 2 for t in lengths]  # conv2: kernel 3, stride 2, padding 1
    assert out_lens.tolist() == expected
    assert enc.output_lengths(lens).tolist() == expected
    assert out.shape == (5, 129, enc.dim)
    for i, t in enumerate(lengths):
        alone, _ = enc(x[i : i + 1, :, :t], lens[i : i + 1])
        torch.testing.assert_close(out[i : i + 1, : expected[i]], alone, rtol=0, atol=1e-5)
        assert out[i, expected[i] :].abs().max() == 0 if expected[i] < out.shape[1] else True


def test_modes_differ_and_pad30_sees_silence_padding():
    x, lens = feats([400], seed=3)
    var, _ = WhisperAudioEncoder(whisper_dir(), "variable")(x, lens)
    pad, _ = WhisperAudioEncoder(whisper_dir(), "pad30")(x, lens)
    assert var.shape == pad.shape == (1, 200, 32)
    assert (var - pad).abs().max() > 1e-3
    # pad30 == the HF encoder on the 30 s input padded with the silence value, first 200 frames
    ref = WhisperModel.from_pretrained(whisper_dir()).encoder.eval()
    silence = float(whisper_silence_value(x, lens))
    full = torch.cat([x, torch.full((1, 80, 2600), silence)], -1).clamp(min=silence)
    torch.testing.assert_close(pad, ref(full).last_hidden_state[:, :200], rtol=0, atol=1e-5)


def test_full_window_counts_all_750_pairs():
    enc = WhisperAudioEncoder(whisper_dir(), "pad30", full_window=True)
    x, lens = feats([100, 3200], seed=4)
    _out, out_lens = enc(x, lens)
    assert out_lens.tolist() == [1500, 3000]
    assert enc.output_lengths(lens).tolist() == [1500, 3000]


def test_silence_value_matches_whisper_feature_extractor():
    """Padding features with whisper_silence_value == the extractor padding the audio."""
    fe = WhisperFeatureExtractor(feature_size=80)
    rng = np.random.default_rng(0)
    audio = np.concatenate(
        [rng.standard_normal(16000 * 2).astype(np.float32) * 0.1, np.zeros(800, np.float32)]
    )
    full = fe(audio, sampling_rate=16000, return_tensors="pt").input_features  # padded to 30 s
    t = len(audio) // 160
    short = full[:, :, :t]
    value = whisper_silence_value(short, torch.tensor([t]))
    torch.testing.assert_close(
        full[0, :, t:], torch.full_like(full[0, :, t:], float(value)), rtol=0, atol=1e-5
    )


def test_chunked_long_audio_concatenates_windows():
    enc = WhisperAudioEncoder(whisper_dir(), "variable", chunk_s=2.0)  # 200-frame windows
    x, lens = feats([530, 170], seed=5)
    out, out_lens = enc(x, lens)
    assert out_lens.tolist() == [265, 85]
    assert enc.output_lengths(lens).tolist() == [265, 85]
    parts = [
        enc(x[:1, :, s : s + 200], torch.tensor([min(200, 530 - s)]))[0] for s in (0, 200, 400)
    ]
    torch.testing.assert_close(out[:1, :265], torch.cat(parts, 1), rtol=0, atol=1e-5)
    alone, _ = enc(x[1:, :, :170], lens[1:])
    torch.testing.assert_close(out[1:, :85], alone, rtol=0, atol=1e-5)


def test_longer_than_30s_in_both_modes():
    x, lens = feats([3700], seed=6)
    for mode, expected in (("variable", 1850), ("pad30", 1850)):
        out, out_lens = WhisperAudioEncoder(whisper_dir(), mode)(x, lens)
        assert out_lens.tolist() == [expected] and out.shape[1] == expected
        assert torch.isfinite(out).all()


def test_bfloat16_encoder_runs_and_returns_float32():
    enc32 = WhisperAudioEncoder(whisper_dir(), "variable")
    enc16 = WhisperAudioEncoder(whisper_dir(), "variable", dtype="bfloat16")
    assert enc16.encoder.conv1.weight.dtype == torch.bfloat16
    x, lens = feats([120, 90], seed=7)
    a, _ = enc32(x, lens)
    b, _ = enc16(x, lens)
    assert b.dtype == torch.float32
    assert (a - b).abs().max() < 0.1


def test_frozen_and_always_eval():
    enc = WhisperAudioEncoder(whisper_dir())
    enc.train()
    assert not enc.training and not enc.encoder.training
    assert not any(p.requires_grad for p in enc.parameters())
    x, lens = feats([50], seed=8)
    x.requires_grad_(True)
    out, _ = enc(x, lens)
    assert not out.requires_grad


def test_conditional_generation_dir_loads(tmp_path):
    from transformers import WhisperForConditionalGeneration

    WhisperForConditionalGeneration.from_pretrained(whisper_dir()).save_pretrained(tmp_path)
    x, lens = feats([64], seed=9)
    a, _ = WhisperAudioEncoder(whisper_dir())(x, lens)
    b, _ = WhisperAudioEncoder(tmp_path)(x, lens)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_user_errors(tmp_path):
    enc = WhisperAudioEncoder(whisper_dir())
    with pytest.raises(UserError, match="80"):
        enc(torch.zeros(1, 128, 10), torch.tensor([10]))
    with pytest.raises(UserError, match="no feature frames"):
        enc(torch.zeros(1, 80, 10), torch.tensor([0]))
    with pytest.raises(UserError, match="not found"):
        WhisperAudioEncoder(tmp_path / "missing")


def test_pad_window_fills_and_clamps_each_window_like_whisper():
    """Each row becomes its own 30 s window: the floor is that row's max - 2 (Whisper clamps
    every window it computes), the padding sits at the floor; it used to be a constant from
    the whole utterance, with no clamp."""
    x = torch.tensor([[[0.5, -1.0, 0.2, 9.0]], [[3.0, -1.2, 0.0, 0.0]]])
    got = pad_window(x, torch.tensor([3, 2]), window=6)
    want = torch.tensor([[[0.5, -1.0, 0.2, -1.5, -1.5, -1.5]], [[3.0, 1.0, 1.0, 1.0, 1.0, 1.0]]])
    torch.testing.assert_close(got, want)

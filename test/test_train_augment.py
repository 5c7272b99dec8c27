"""Training-time augmentation and per-task decoding limits: small pure functions."""

from __future__ import annotations

import pytest
import torch

from soundwave.data.augment import warp_mel_axis
from soundwave.data.batches import DataConfig
from soundwave.decode.decode import GenerationConfig


def test_warp_factor_one_is_the_identity():
    feats = torch.randn(2, 7, 80)
    torch.testing.assert_close(warp_mel_axis(feats, torch.ones(2)), feats)


def test_warp_moves_a_spectral_peak_by_the_factor():
    feats = torch.zeros(2, 3, 80)
    feats[:, :, 20] = 1.0  # a "formant" at bin 20
    out = warp_mel_axis(feats, torch.tensor([1.25, 0.8]))
    assert int(out[0, 0].argmax()) == 25  # up: output bin 25 reads input bin 20
    assert int(out[1, 0].argmax()) == 16  # down: output bin 16 reads input bin 20
    assert torch.allclose(out[:, 0], out[:, 2])  # every frame alike


def test_warp_interpolates_and_repeats_the_top_bin():
    feats = torch.arange(10.0).expand(1, 1, 10)
    out = warp_mel_axis(feats, torch.tensor([0.5]))  # bin m reads 2m, clamped at 9
    assert out[0, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0]
    out = warp_mel_axis(feats, torch.tensor([2.0]))  # bin m reads m/2
    assert out[0, 0, :4].tolist() == [0.0, 0.5, 1.0, 1.5]


def test_freq_warp_range_is_checked():
    with pytest.raises(ValueError, match="freq_warp"):
        DataConfig(freq_warp=0.7)


def test_max_new_tokens_by_task():
    gen = GenerationConfig(max_new_tokens=48, max_new_tokens_by_task={"gender": 6})
    assert gen.kwargs("gender")["max_new_tokens"] == 6
    assert gen.kwargs("asr")["max_new_tokens"] == 48
    assert gen.kwargs()["max_new_tokens"] == 48

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


def _tagged_cuts(tmp_path, n: int = 3):
    import random as pyrandom

    import numpy as np
    import soundfile as sf
    from lhotse import CutSet, Recording, SupervisionSegment

    from soundwave.data.collate import tag_cut

    cuts = []
    for i in range(n):
        path = tmp_path / f"u{i}.wav"
        t = np.arange(16000 + 4000 * i) / 16000
        sf.write(path, (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype("float32"), 16000)
        rec = Recording.from_file(path, recording_id=f"u{i}")
        cut = rec.to_cut()
        cut.supervisions = [
            SupervisionSegment(f"u{i}", f"u{i}", 0.0, rec.duration, text=f"word {i}")
        ]
        cuts.append(tag_cut(cut, "asr", position=10 + i))
    pyrandom.shuffle(cuts)
    return CutSet.from_cuts(cuts)


def test_spec_augment_masks_depend_on_the_seed_and_positions_only(tmp_path):
    """lhotse's SpecAugment draws from Python's and numpy's global RNGs, which nothing
    seeds: the same batch got other masks in every run (and after a resume)."""
    import random as pyrandom

    import numpy as np

    from soundwave.data.collate import SpeechTaskDataset

    cuts = _tagged_cuts(tmp_path)
    dataset = SpeechTaskDataset(on_the_fly=True, training=True, seed=3, spec_augment=True)
    feats = []
    for global_seed in (1, 2):
        pyrandom.seed(global_seed)
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        states = (pyrandom.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
        feats.append(dataset[cuts]["feats"])
        # the callers' generators are left as they were
        assert pyrandom.getstate() == states[0]
        assert (np.random.get_state()[1] == states[1]).all()
        assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.equal(feats[0], feats[1])
    plain = SpeechTaskDataset(on_the_fly=True, training=True, seed=3)[cuts]["feats"]
    assert not torch.equal(feats[0], plain)  # it did augment
    other = SpeechTaskDataset(on_the_fly=True, training=True, seed=4, spec_augment=True)
    assert not torch.equal(feats[0], other[cuts]["feats"])

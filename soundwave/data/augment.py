"""Augmentation on log-mel batches: what lhotse does not have, and lhotse's made repeatable."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Run a block with Python's, numpy's and torch's global RNGs seeded from ``seed``, and
    leave all three as they were afterwards.

    lhotse's SpecAugment draws from all three global generators, of which only torch's is
    seeded by the trainer: without this, the same run gave other masks every time (and a
    resumed run other masks than an uninterrupted one)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def warp_mel_axis(feats: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Stretch the mel axis of (B, T, F) log-mels by ``factors`` (B,), linear interpolation.

    Output bin ``m`` reads input bin ``m / factor``: a factor above 1 moves the spectrum up
    (a shorter vocal tract), below 1 down; bins read from beyond the top repeat the top bin.
    """
    n = feats.shape[-1]
    pos = (torch.arange(n, dtype=feats.dtype) / factors[:, None].to(feats.dtype)).clamp(max=n - 1)
    low = pos.floor().long()
    high = (low + 1).clamp(max=n - 1)
    frames = feats.shape[1]
    below = feats.gather(2, low[:, None, :].expand(-1, frames, -1))
    above = feats.gather(2, high[:, None, :].expand(-1, frames, -1))
    return torch.lerp(below, above, (pos - low.to(pos.dtype))[:, None, :])

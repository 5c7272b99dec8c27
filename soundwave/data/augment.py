"""Augmentation on log-mel batches that lhotse does not have."""

from __future__ import annotations

import torch


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

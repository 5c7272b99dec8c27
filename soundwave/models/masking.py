"""Batched length/mask/gather helpers shared by the encoder, adapter and bridge."""

from __future__ import annotations

import torch


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B,) lengths -> (B, T) bool, True on valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def compact_index(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the True entries of each row, moved to the front.

    keep: (B, T) bool.  Returns ``index`` (B, V) long with V = max count (at least 1), -1 on
    padding, and ``counts`` (B,).  No Python loop over the batch.
    """
    counts = keep.sum(1)
    width = max(int(counts.max()) if keep.numel() else 0, 1)
    index = torch.full((keep.shape[0], width), -1, dtype=torch.long, device=keep.device)
    rows, cols = keep.nonzero(as_tuple=True)
    slot = keep.long().cumsum(1)[rows, cols] - 1
    index[rows, slot] = cols
    return index, counts


def gather_frames(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, H), index (B, V) with -1 padding -> (B, V, H), zeros on padding.

    A plain ``gather``: gradients flow back to the selected frames of ``x``.
    """
    picked = x.gather(1, index.clamp(min=0).unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return picked * (index >= 0).unsqueeze(-1).to(picked.dtype)


def stack_frames(
    x: torch.Tensor, lengths: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate k adjacent frames: (B, T, D) -> (B, ceil(T/k), k*D); lengths -> ceil(len/k).

    Frames past each length are zeroed first, so a partial last group is padded with zeros
    whatever the batch padding held (batch == single).
    """
    b, t, d = x.shape
    x = x * lengths_to_mask(lengths, t).unsqueeze(-1).to(x.dtype)
    pad = (-t) % k
    if pad:
        x = torch.nn.functional.pad(x, (0, 0, 0, pad))
    return x.reshape(b, (t + pad) // k, k * d), (lengths + k - 1) // k

"""Baseline projector (bridge="linear"): SLAM-LLM / icefall style, no CTC.

Concatenate k adjacent 50 Hz encoder frames (k = 5 -> 10 Hz, k = 8 -> 6.25 Hz) and map
them to the LLM hidden size with Linear-ReLU-Linear (``inner`` > 0) or one Linear.
The other baseline, bridge="none", is the unshrunk 25 Hz adapter (see bridge.py).
"""

from __future__ import annotations

import torch
from torch import nn

from soundwave.models.masking import lengths_to_mask, stack_frames


class LinearProjector(nn.Module):
    def __init__(self, in_dim: int, hidden: int, k: int = 5, inner: int = 2048):
        super().__init__()
        self.k = k
        if inner > 0:
            self.net = nn.Sequential(
                nn.Linear(in_dim * k, inner), nn.ReLU(), nn.Linear(inner, hidden)
            )
        else:
            self.net = nn.Sequential(nn.Linear(in_dim * k, hidden))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T50, D), (B,) -> (B, ceil(T50/k), H) zero on padding, lengths."""
        x, lengths = stack_frames(x, lengths, self.k)
        y = self.net(x)
        return y * lengths_to_mask(lengths, y.shape[1]).unsqueeze(-1).to(y.dtype), lengths

"""Alignment adapter (50 Hz encoder frames -> 25 Hz "text-like" vectors) and its CTC head.

Stack k adjacent frames, project to the LLM hidden size, N pre-norm transformer layers,
LayerNorm.  ``temporal=False`` reproduces the released model's frame-wise quirk: its layer
is built without ``batch_first`` but fed (1, T, H), so attention spans one frame; here the
same layer is fed (B*T, 1, H), which is that computation exactly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from soundwave.models.masking import lengths_to_mask, stack_frames


class AlignmentAdapter(nn.Module):
    def __init__(
        self,
        in_dim: int,
        hidden: int,
        stack: int = 2,
        num_layers: int = 1,
        heads: int = 8,
        ff_mult: int = 2,
        dropout: float = 0.1,
        temporal: bool = True,
    ):
        super().__init__()
        self.stack = stack
        self.temporal = temporal
        self.proj = nn.Linear(in_dim * stack, hidden)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d_model=hidden,
                nhead=heads,
                dim_feedforward=ff_mult * hidden,
                dropout=dropout,
                norm_first=True,
                batch_first=True,
            )
            for _ in range(num_layers)
        )
        self.out_norm = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T50, D), (B,) -> (B, T25, H) zero on padding, 25 Hz lengths (B,)."""
        x, lengths = stack_frames(x, lengths, self.stack)
        x = self.proj(x)
        b, t, h = x.shape
        valid = lengths_to_mask(lengths, t)
        for layer in self.layers:
            if self.temporal:
                x = layer(x, src_key_padding_mask=~valid)
            else:
                x = layer(x.reshape(b * t, 1, h)).reshape(b, t, h)
        x = self.out_norm(x)
        return x * valid.unsqueeze(-1).to(x.dtype), lengths


class EmbeddingCTCHead(nn.Module):
    """CTC logits from the LLM's own input embeddings: ``scale * cos(frame, embedding[v])``.

    The embedding matrix stays the LLM's (frozen, not a parameter of this module, not saved
    with it); the only weight is the log of the logit scale.  A frame that wins CTC for token
    ``v`` must point the way the LLM's embedding of ``v`` points, which is what makes the
    adapter's output readable by the LLM as text.  The blank is the audio placeholder's row.
    """

    def __init__(self, embeddings: nn.Embedding, vocab: int, init_scale: float = 30.0):
        super().__init__()
        self.vocab = vocab
        # a plain attribute: the LLM owns (and moves, and saves) the embedding module
        object.__setattr__(self, "embeddings", embeddings)
        self.log_scale = nn.Parameter(torch.tensor(float(init_scale)).log())
        # the table is frozen: its row norms are computed once (a normalised copy per step
        # would be a second vocab x hidden tensor); not saved, derived from the LLM
        norms = embeddings.weight[:vocab].detach().float().norm(dim=-1)
        self.register_buffer("inv_norms", 1.0 / norms.clamp_min(1e-12), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        table = self.embeddings.weight[: self.vocab].to(frames.dtype)
        scale = (self.inv_norms * self.log_scale.exp()).to(frames.dtype)
        return F.linear(F.normalize(frames, dim=-1), table) * scale


def ctc_loss(
    logits: torch.Tensor,
    lengths: torch.Tensor,
    targets: list[list[int]],
    blank: int,
) -> torch.Tensor:
    """Mean CTC loss (per-target-length normalised, as F.ctc_loss 'mean') over the utterances
    that have a non-empty target; 0 when none has.  ``zero_infinity`` guards too-short inputs.
    """
    use = [i for i, t in enumerate(targets) if len(t) > 0]
    if not use:
        return logits.new_zeros((), dtype=torch.float32)
    idx = torch.tensor(use, device=logits.device)
    log_probs = F.log_softmax(logits.index_select(0, idx).float(), dim=-1).transpose(0, 1)
    flat = torch.tensor(
        [tok for i in use for tok in targets[i]], dtype=torch.long, device=logits.device
    )
    target_lens = torch.tensor(
        [len(targets[i]) for i in use], dtype=torch.long, device=logits.device
    )
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN's CTC has extra restrictions
        return F.ctc_loss(
            log_probs,
            flat,
            lengths.index_select(0, idx),
            target_lens,
            blank=blank,
            reduction="mean",
            zero_infinity=True,
        )


def ctc_greedy(logits: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    """Best path: argmax, collapse repeats, drop blanks (within each length)."""
    labels = logits.argmax(-1)
    first = torch.ones_like(labels, dtype=torch.bool)
    first[:, 1:] = labels[:, 1:] != labels[:, :-1]
    keep = first & (labels != blank) & lengths_to_mask(lengths, labels.shape[1])
    labels, keep = labels.cpu(), keep.cpu()
    return [row[k].tolist() for row, k in zip(labels, keep)]

"""Shrinking bridge: keep the CTC-selected adapter frames, then a look-back attention.

Batched throughout (no per-utterance loop).  Selections over the CTC argmax labels:

* ``"runs"`` (released): keep t where label[t] != label[t-1], frame 0 kept; one frame
  of every run survives, blank runs included;
* ``"peaks"``: the first frame of every non-blank run; a row without any keeps its most
  speech-like frame (lowest blank probability), so no utterance is ever empty;
* ``"all"``: every valid frame (bridge "none": the unshrunk 25 Hz adapter output).

Look-back (``nn.MultiheadAttention``, query = kept frames, key = value = all adapter
frames, then residual + LayerNorm): ``"kept"`` masks the dropped frames (released:
``key_padding_mask = ~keep``), ``"dropped"`` lets each kept frame attend to the dropped
ones (to itself where an utterance dropped nothing), ``"none"`` skips it.

Optionally (:class:`SoftTokens`) each output vector also gets its frame's CTC
posterior-weighted LLM token embedding, and (:class:`UtteranceVector`) one vector that
sums up the whole utterance goes before the kept ones.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from soundwave.models.masking import compact_index, gather_frames, lengths_to_mask

SELECTIONS = ("runs", "peaks", "all")


def run_starts(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) -> True where a run of equal labels starts (frame 0 always)."""
    start = torch.ones_like(labels, dtype=torch.bool)
    start[:, 1:] = labels[:, 1:] != labels[:, :-1]
    return start


def select_runs(labels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The released selection, restricted to each utterance's valid frames."""
    return run_starts(labels) & lengths_to_mask(lengths, labels.shape[1])


def select_peaks(
    labels: torch.Tensor,
    lengths: torch.Tensor,
    blank: int,
    blank_logprob: torch.Tensor | None = None,
) -> torch.Tensor:
    """First frame of each non-blank run; never empty (fallback: lowest blank log-prob, else 0)."""
    valid = lengths_to_mask(lengths, labels.shape[1])
    keep = run_starts(labels) & (labels != blank) & valid
    empty = ~keep.any(1)
    if bool(empty.any()):
        if blank_logprob is None:
            fallback = torch.zeros_like(lengths)
        else:
            fallback = blank_logprob.masked_fill(~valid, float("inf")).argmin(1)
        keep = keep | (F.one_hot(fallback, labels.shape[1]).bool() & empty[:, None])
    return keep


class LookBack(nn.Module):
    """Kept frames attend to the adapter frames; residual + LayerNorm (official ``lbm``)."""

    def __init__(self, hidden: int, heads: int, dropout: float = 0.1, mode: str = "kept"):
        super().__init__()
        if mode not in ("kept", "dropped"):
            raise ValueError(f"look-back mode {mode!r}")
        self.mode = mode
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(hidden)

    def forward(
        self,
        query: torch.Tensor,
        index: torch.Tensor,
        frames: torch.Tensor,
        keep: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        if self.mode == "kept":
            out, _ = self.attn(query, frames, frames, key_padding_mask=~keep, need_weights=False)
        else:
            dropped = valid & ~keep
            t = torch.arange(frames.shape[1], device=frames.device)
            own = t[None, None, :] == index.clamp(min=0)[:, :, None]  # (B, V, T)
            nodrop = ~dropped.any(1)
            allowed = torch.where(nodrop[:, None, None], own, dropped[:, None, :])
            mask = (~allowed).repeat_interleave(self.attn.num_heads, dim=0)
            out, _ = self.attn(query, frames, frames, attn_mask=mask, need_weights=False)
        out = self.norm(query + out)
        return out * (index >= 0).unsqueeze(-1).to(out.dtype)


class SoftTokens(nn.Module):
    """Each kept vector plus its frame's CTC posterior-weighted LLM token embedding.

    ``out = softmax(ctc_logits) @ E + gate * vector``: the expected input embedding of the
    token the CTC head hears there (the blank's row for a blank frame) carries what was
    said in the LLM's own embedding space, so what the LLM can do with text it can do with
    these vectors from the first step (cf. LegoSLM, Ma et al. 2025, which feeds CTC
    posteriors times the embedding matrix); the gated adapter vector adds what text cannot
    hold (who speaks, how).  ``E`` is the LLM's frozen input embedding table (not a
    parameter of this module, not saved with it); the only weight is the gate, one factor
    per channel, which starts so that the adapter part has ``gate_init`` times the RMS of
    the token embeddings.  Per channel, because a scalar gate was driven towards zero by
    the transcription and translation losses (to which the adapter part is noise), taking
    the speaker's gender with it (mini_synth: gender fell to chance).
    """

    def __init__(self, embeddings: nn.Embedding, vocab: int, gate_init: float = 0.5):
        super().__init__()
        self.vocab = vocab
        object.__setattr__(self, "embeddings", embeddings)  # owned (moved, saved) by the LLM
        table = embeddings.weight[:vocab].detach().float()
        rms = float(table.pow(2).mean().sqrt())
        self.gate = nn.Parameter(torch.full((table.shape[1],), gate_init * rms))

    def forward(
        self, vectors: torch.Tensor, logits: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """vectors (B, V, H) at frames ``index`` (B, V; -1 padding) of ``logits`` (B, T, vocab)."""
        probs = gather_frames(logits, index).float().softmax(-1).to(vectors.dtype)
        table = self.embeddings.weight[: self.vocab].to(vectors.dtype)
        out = probs @ table + self.gate.to(vectors.dtype) * vectors
        return out * (index >= 0).unsqueeze(-1).to(out.dtype)


class UtteranceVector(nn.Module):
    """Attentive statistics pooling of all adapter frames into one vector for the LLM.

    The kept frames are where the CTC head hears tokens, and Stages I-II train them to be
    text-like: what is true of the whole utterance rather than of a token (who speaks, how)
    has no position of its own and is easily trained away (mini_synth: the LLM's gender
    answers fell to chance with the shrinking bridge, not with the unshrunk adapter). This
    vector is such a position: a learned attention over the valid frames gives their
    weighted mean and standard deviation (x-vector style pooling), projected to the LLM's
    width and layer-normed as the adapter's frames are. Not in the released model.
    """

    def __init__(self, hidden: int, attention_dim: int = 128):
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(hidden, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1)
        )
        self.proj = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Adapter frames (B, T, H) and their valid mask (B, T) -> (B, 1, H)."""
        weights = self.score(frames).squeeze(-1).float().masked_fill(~valid, float("-inf"))
        weights = weights.softmax(-1).nan_to_num(0.0).unsqueeze(-1)  # an empty row: zeros
        x = frames.float()
        mean = (weights * x).sum(1)
        std = ((weights * x.pow(2)).sum(1) - mean.pow(2)).clamp(min=1e-6).sqrt()
        stats = torch.cat([mean, std], -1).to(frames.dtype)
        return self.norm(self.proj(stats)).unsqueeze(1)


def prepend(
    vector: torch.Tensor, out: torch.Tensor, counts: torch.Tensor, index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Put one vector (B, 1, H) before each row of left-aligned ``out`` (B, V, H): its
    index is -1 (no frame of its own) and every row counts one more position."""
    first = index.new_full((index.shape[0], 1), -1)
    return torch.cat([vector, out], 1), counts + 1, torch.cat([first, index], 1)


class ShrinkBridge(nn.Module):
    def __init__(
        self,
        hidden: int,
        heads: int,
        blank: int,
        selection: str = "runs",
        lookback: str = "kept",
        dropout: float = 0.1,
        soft_tokens: SoftTokens | None = None,
        utterance_vector: UtteranceVector | None = None,
    ):
        super().__init__()
        if selection not in SELECTIONS:
            raise ValueError(f"selection {selection!r} not in {SELECTIONS}")
        self.selection = selection
        self.blank = blank
        self.lookback = None if lookback == "none" else LookBack(hidden, heads, dropout, lookback)
        self.soft_tokens = soft_tokens
        self.utterance_vector = utterance_vector

    def select(self, logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, vocab) CTC logits -> (B, T) keep mask (no gradient)."""
        with torch.no_grad():
            if self.selection == "all":
                return lengths_to_mask(lengths, logits.shape[1])
            labels = logits.argmax(-1)
            if self.selection == "runs":
                return select_runs(labels, lengths)
            blank_lp = logits.float().log_softmax(-1)[..., self.blank]
            return select_peaks(labels, lengths, self.blank, blank_lp)

    def forward(
        self, frames: torch.Tensor, lengths: torch.Tensor, logits: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Adapter frames (B, T, H), lengths, CTC logits -> embeds (B, V, H), counts (B,),
        kept frame indices (B, V) with -1 padding (and for the utterance vector, first)."""
        keep = self.select(logits, lengths)
        index, counts = compact_index(keep)
        out = gather_frames(frames, index)
        if self.lookback is not None or self.utterance_vector is not None:
            valid = lengths_to_mask(lengths, frames.shape[1])
        if self.lookback is not None:
            out = self.lookback(out, index, frames, keep, valid)
        if self.soft_tokens is not None:
            out = self.soft_tokens(out, logits, index)
        if self.utterance_vector is not None:
            out, counts, index = prepend(self.utterance_vector(frames, valid), out, counts, index)
        return out, counts, index

"""Frozen Whisper encoder over batched, variable-length log-mel features.

Input: ``feats`` (B, n_mels, T) Whisper log-mel at 100 frames/s, zero-padded on the right,
and ``feat_lens`` (B,).  Output: (B, T50, d) frames at 50 Hz and their lengths.

Two input modes:

* ``"pad30"`` - every 30 s window is padded to 3000 frames as openai-whisper and the
  WhisperFeatureExtractor pad audio (and as Whisper and the released Soundwave saw it):
  the utterance's ``feat_tails`` (the reference frames whose STFT windows still hold its
  last samples, from :mod:`soundwave.features.fbank`) follow its last frame, then the
  value that Whisper's zero-padded audio has (:func:`whisper_silence_value`).  With that
  front end's features this is openai-whisper's 30 s log-mel; the window's values are
  clamped at its own (max - 2), as Whisper clamps each 30 s window it sees.  Without
  tails the frames just past the end are silence too;
* ``"variable"`` - no padding: the positional embeddings are sliced to the window length
  and padded frames are masked out of self-attention, so a batch gives the same frames as
  each utterance alone.

Audio longer than one window (``encoder_chunk_s``) is encoded window by window and the
frames concatenated.  Only the encoder weights are read from the checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from soundwave.errors import UserError
from soundwave.models.masking import compact_index, gather_frames, lengths_to_mask
from soundwave.models.weights import read_tensors, require_dir, strip_prefix

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def whisper_silence_value(feats: torch.Tensor, feat_lens: torch.Tensor) -> torch.Tensor:
    """The log-mel value of zero samples in each window, as openai-whisper has it.

    Whisper clamps log10(mel) at (max - 8), max over the window, and maps x -> (x + 4) / 4,
    so zero samples (log10(1e-10) = -10 before the clamp) become (max_normalised - 2),
    floored at -1.5.  ``feats`` (B, n_mels, T) must be exact (not coarsely quantised):
    the max sets every padded frame.  Returns (B,).
    """
    valid = lengths_to_mask(feat_lens, feats.shape[-1]).unsqueeze(1)
    top = feats.masked_fill(~valid, float("-inf")).amax(dim=(1, 2))
    return (top - 2.0).clamp(min=-1.5)


def pad_window(feats: torch.Tensor, feat_lens: torch.Tensor, window: int = 3000) -> torch.Tensor:
    """(B, n_mels, T <= window) -> (B, n_mels, window): each row as Whisper's 30 s window.

    Frames from ``feat_lens`` on (the utterance and its tail before them) become
    :func:`whisper_silence_value`, and the values are
    clamped at that value, as Whisper clamps each window it computes on its own (a no-op
    for a whole utterance; for a window of a longer one, its own max sets the floor).
    """
    silence = whisper_silence_value(feats, feat_lens)[:, None, None]
    x = torch.maximum(F.pad(feats, (0, window - feats.shape[-1])), silence)
    pad = ~lengths_to_mask(feat_lens, window).unsqueeze(1)
    return torch.where(pad, silence, x)


def load_whisper_encoder(path: str | os.PathLike):
    """Build HF's WhisperEncoder and fill it from a WhisperModel or ...ForConditionalGeneration dir."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    require_dir(path, "Whisper model")
    if not (Path(path) / "config.json").is_file():
        # from_pretrained would fall back to a default config and blame the weights
        raise UserError("not a Whisper model dir: no config.json", path)
    try:
        config = WhisperConfig.from_pretrained(str(path))
    except OSError as err:
        raise UserError(f"cannot read the Whisper config: {err}", path) from None
    state = read_tensors(path, strip_prefix(("model.encoder.", "encoder.")))
    with torch.device("meta"):
        encoder = WhisperEncoder(config)
    missing = sorted(set(encoder.state_dict()) - set(state))
    if missing:
        raise UserError(
            f"not a Whisper checkpoint: encoder weights missing ({missing[0]}, ...)", path
        )
    encoder.load_state_dict(state, strict=True, assign=True)
    return encoder


class WhisperAudioEncoder(nn.Module):
    """The frozen Whisper encoder (always eval, no gradients)."""

    def __init__(
        self,
        path: str | os.PathLike,
        input_mode: str = "variable",
        chunk_s: float = 30.0,
        dtype: str = "float32",
        full_window: bool = False,
    ):
        super().__init__()
        self.encoder = load_whisper_encoder(path).to(DTYPES[dtype])
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self.input_mode = input_mode
        self.full_window = full_window
        cfg = self.encoder.config
        self.dim: int = cfg.d_model
        self.n_mels: int = cfg.num_mel_bins
        self.window = 2 * cfg.max_source_positions  # 3000 input frames = 30 s
        self.step = min(round(chunk_s * 100), self.window)
        self._cache_id: str | None = None

    def cache_id(self) -> str:
        """What makes this encoder's output: a digest of its weights (as loaded, in its
        dtype) and the input mode, window and mel bins.  Stored with an encoder cache, and
        compared before a cached batch is used (a path alone would miss a changed dir)."""
        if self._cache_id is None:
            digest = hashlib.blake2b(digest_size=8)
            for name, tensor in sorted(self.encoder.state_dict().items()):
                t = tensor.detach().cpu().contiguous()
                digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
                digest.update(t.view(torch.uint8).numpy())
            window = "full" if self.full_window else "speech"
            self._cache_id = (
                f"{digest.hexdigest()}/{self.input_mode}/step{self.step}/{window}/mels{self.n_mels}"
            )
        return self._cache_id

    @classmethod
    def from_config(cls, cfg) -> WhisperAudioEncoder:
        """The encoder a :class:`~soundwave.models.config.SoundwaveConfig` names."""
        return cls(
            cfg.encoder_path,
            cfg.encoder_input,
            cfg.encoder_chunk_s,
            cfg.encoder_dtype,
            cfg.encoder_full_window,
        )

    def train(self, mode: bool = True) -> WhisperAudioEncoder:
        return super().train(False)  # frozen: dropout stays off

    def output_lengths(self, feat_lens: torch.Tensor) -> torch.Tensor:
        """50 Hz frame counts for input frame counts, without running the encoder."""
        n_chunks = (feat_lens + self.step - 1) // self.step
        if self.full_window:
            return n_chunks * (self.window // 2)
        last = feat_lens - (n_chunks - 1) * self.step
        return (n_chunks - 1) * (self.step // 2) + (last + 1) // 2

    @torch.no_grad()
    def forward(
        self,
        feats: torch.Tensor,
        feat_lens: torch.Tensor,
        feat_tails: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_mels, T), (B,) -> frames (B, T50, d) float32, lengths (B,).

        ``feat_tails`` (B, n_mels, n): the frames of Whisper's window just past each
        utterance's end, which ``pad30`` places after it (``variable`` has no use for them).
        """
        if feats.dim() != 3 or feats.shape[1] != self.n_mels:
            raise UserError(
                f"features have shape {tuple(feats.shape)}; the encoder expects (batch, {self.n_mels}, time)"
            )
        device = self.encoder.conv1.weight.device
        feats = feats.to(device=device, dtype=torch.float32)
        lens = feat_lens.to(device).clamp(max=feats.shape[-1])
        if int(lens.min()) < 1:
            raise UserError("an utterance has no feature frames")
        b, m, t = feats.shape
        feats = feats * lengths_to_mask(lens, t).unsqueeze(1)
        step = self.step if (self.input_mode == "pad30" or t > self.step) else t
        n_chunks = -(-t // step)
        x = F.pad(feats, (0, n_chunks * step - t))
        x = x.reshape(b, m, n_chunks, step).permute(0, 2, 1, 3).reshape(b * n_chunks, m, step)
        starts = torch.arange(n_chunks, device=device) * step
        chunk_lens = (lens[:, None] - starts[None, :]).clamp(0, step).reshape(-1)
        live = chunk_lens > 0
        xs, cl = x[live], chunk_lens[live]
        if self.input_mode == "pad30":
            ends = cl  # frames of each window that are its content
            if feat_tails is not None:  # after the chunk where each utterance ends
                owner = torch.arange(b, device=device).repeat_interleave(n_chunks)[live]
                last = (lens[owner] - starts.repeat(b)[live]) <= step
                xs = F.pad(xs, (0, self.window - step))
                xs, ends = append_tails(xs, cl, feat_tails.to(xs)[owner], last)
            xs = pad_window(xs, ends, self.window)
            h = run_whisper_encoder(self.encoder, xs, None)
            out_lens = torch.full_like(cl, h.shape[1]) if self.full_window else (cl + 1) // 2
        else:
            h = run_whisper_encoder(self.encoder, xs, cl)
            out_lens = (cl + 1) // 2
        t2 = h.shape[1]
        frames = h.new_zeros(b * n_chunks, t2, self.dim)
        frames[live] = h
        lens2 = torch.zeros_like(chunk_lens)
        lens2[live] = out_lens
        frames = frames.reshape(b, n_chunks * t2, self.dim)
        valid = lengths_to_mask(lens2, t2).reshape(b, n_chunks * t2)
        index, counts = compact_index(valid)
        return gather_frames(frames, index).float(), counts


def append_tails(
    x: torch.Tensor, lens: torch.Tensor, tails: torch.Tensor, rows: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Write the tails (B, n_mels, n) at frames lens..lens+n of ``x`` (B, n_mels, L), as far
    as ``x`` reaches, in the ``rows`` (B,) bool that are given (all by default).  Returns
    the new ``x`` and where each row's content ends: what :func:`pad_window` then pads."""
    n, width = tails.shape[-1], x.shape[-1]
    pos = lens[:, None] + torch.arange(n, device=x.device)[None, :]
    fits = pos < width
    if rows is not None:
        fits &= rows[:, None]
    index = torch.arange(len(lens), device=x.device)[:, None].expand_as(pos)
    x = x.clone()
    x[index[fits], :, pos[fits]] = tails.transpose(1, 2)[fits]
    return x, lens + fits.sum(dim=1)


def run_whisper_encoder(enc: nn.Module, x: torch.Tensor, lens: torch.Tensor | None) -> torch.Tensor:
    """HF WhisperEncoder.forward without its fixed-3000-frame check; ``lens`` masks padding.

    (B, n_mels, T) -> (B, ceil(T/2), d).  Gradients flow (the stand-in pretraining uses it).
    """
    x = x.to(enc.conv1.weight.dtype)
    h = F.gelu(enc.conv1(x))
    if lens is not None:  # conv2 must see zeros past the end, as for a lone utterance
        h = h * lengths_to_mask(lens, h.shape[-1]).unsqueeze(1).to(h.dtype)
    h = F.gelu(enc.conv2(h)).transpose(1, 2)
    t2 = h.shape[1]
    if t2 > enc.embed_positions.num_embeddings:
        raise ValueError(f"window of {t2} frames exceeds Whisper's positional table")
    h = h + enc.embed_positions.weight[:t2]
    mask = None
    if lens is not None:
        lens2 = (lens + 1) // 2
        if int(lens2.min()) < t2:
            keep = lengths_to_mask(lens2, t2)
            mask = torch.zeros(keep.shape, dtype=h.dtype, device=h.device)
            mask = mask.masked_fill(~keep, torch.finfo(h.dtype).min)
            mask = mask[:, None, None, :].expand(-1, 1, t2, t2)
    for layer in enc.layers:
        h = layer(h, mask)
    return enc.layer_norm(h)

"""A tiny Whisper-architecture encoder pretrained with character CTC, saved as an HF Whisper.

The encoder is HF's ``WhisperEncoder`` (two convolutions to 50 Hz, sinusoidal positions,
pre-norm transformer layers) run on variable-length input, exactly as
:class:`soundwave.models.encoder.WhisperAudioEncoder` runs it in ``"variable"`` mode
(positions sliced, padded frames masked).  A linear CTC head over lower-case characters
trains it; :func:`save_whisper` writes a ``WhisperModel`` directory (the encoder, a minimal
random 1-layer decoder that nothing uses, a feature-extractor config) plus the CTC head in
``ctc_head.safetensors`` for quick WER checks.

Default size (d_model 144, 4 layers, 4 heads, FFN 576): about 1.1 M trainable parameters.
On the mini_synth test voices, none of which it heard in training, its character error
rate stays far above the one on training speech: unseen voices, more than steps, are the
limit (what was tried against it, and the numbers, are in README.md and the
commit history).  The test voices' families (flite "awb", espeak-ng "gbcwmd") are what it
has not heard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir
from soundwave.models.encoder import load_whisper_encoder, run_whisper_encoder
from soundwave.models.masking import lengths_to_mask

CTC_ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"  # output id = 1 + index; 0 is the blank
BLANK = 0
CTC_HEAD_FILE = "ctc_head.safetensors"
CTC_META_FILE = "ctc_head.json"


def normalize_text(text: str) -> str:
    """Lower case, characters outside the CTC alphabet as spaces, single spaces."""
    text = "".join(c if c in CTC_ALPHABET else " " for c in text.lower())
    return " ".join(text.split())


def text_to_ids(text: str) -> list[int]:
    return [1 + CTC_ALPHABET.index(c) for c in normalize_text(text)]


def encoder_forward(
    encoder: WhisperEncoder, feats: torch.Tensor, feat_lens: torch.Tensor
) -> torch.Tensor:
    """(B, n_mels, T) features (padding ignored) -> (B, ceil(T/2), d), with gradients.

    The same variable-length pass as the frozen encoder of the Soundwave model, so the
    stand-in is pretrained on exactly the frames it will later produce.
    """
    feats = feats * lengths_to_mask(feat_lens, feats.shape[-1]).unsqueeze(1).to(feats.dtype)
    return run_whisper_encoder(encoder, feats, feat_lens)


GENDERS = ("female", "male")


def init_frontend(encoder: WhisperEncoder) -> None:
    """He-initialise the two GELU convolutions of a freshly built encoder.

    HF initialises them like every other weight (normal, std ``init_std`` = 0.02), which at
    stand-in width leaves the audio at a small fraction of the sinusoidal positions it is
    added to: the transformer first sees mostly positions
    and CTC training sits on its blank plateau for hundreds of steps.  He initialisation
    keeps the signal's scale through both convolutions.
    """
    for conv in (encoder.conv1, encoder.conv2):
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)


class EncoderCTCPretrainer(nn.Module):
    """Whisper encoder + linear character-CTC head (+ a speaker-gender head).

    ``forward(feats (B, n_mels, T), feat_lens (B,), texts, genders=None)`` returns
    ``{"loss", "ctc_loss"}`` (+ ``"gender_loss"``): the CTC loss (mean over utterances of
    the per-character loss, impossible alignments zeroed) plus ``gender_weight`` times the
    cross entropy of a gender classifier on the mean-pooled frames.  A CTC-only encoder
    learns to discard who is speaking; Whisper, trained on far more than transcripts,
    keeps it, and so does this stand-in with the second objective.
    """

    def __init__(self, config: WhisperConfig, seed: int = 0, gender_weight: float = 0.5):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.encoder = WhisperEncoder(config)
            init_frontend(self.encoder)
            self.ctc_head = nn.Linear(config.d_model, 1 + len(CTC_ALPHABET))
            self.gender_head = nn.Linear(config.d_model, len(GENDERS))
        self.gender_weight = gender_weight

    @property
    def config(self) -> WhisperConfig:
        return self.encoder.config

    def log_probs(
        self, feats: torch.Tensor, feat_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC log-probabilities (B, T50, 1 + len(CTC_ALPHABET)) and their lengths."""
        hidden = encoder_forward(self.encoder, feats, feat_lens)
        return self.ctc_head(hidden).float().log_softmax(-1), (feat_lens + 1) // 2

    def forward(
        self,
        feats: torch.Tensor,
        feat_lens: torch.Tensor,
        texts: Sequence[str],
        genders: Sequence[str | None] | None = None,
    ) -> dict[str, torch.Tensor]:
        hidden = encoder_forward(self.encoder, feats, feat_lens)
        lens = (feat_lens + 1) // 2
        log_probs = self.ctc_head(hidden).float().log_softmax(-1)
        targets = [torch.tensor(text_to_ids(t), dtype=torch.long) for t in texts]
        target_lens = torch.tensor([len(t) for t in targets], dtype=torch.long)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.cat(targets).to(log_probs.device),
            lens,
            target_lens,
            blank=BLANK,
            reduction="mean",
            zero_infinity=True,
        )
        out = {"loss": loss, "ctc_loss": loss.detach()}
        labels = [GENDERS.index(g) if g in GENDERS else -100 for g in genders or []]
        if self.gender_weight > 0 and any(label >= 0 for label in labels):
            mask = lengths_to_mask(lens, hidden.shape[1]).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            target = torch.tensor(labels, device=hidden.device)
            gender_loss = F.cross_entropy(
                self.gender_head(pooled).float(), target, ignore_index=-100
            )
            out["gender_loss"] = gender_loss.detach()
            out["loss"] = loss + self.gender_weight * gender_loss
        return out

    @classmethod
    def from_pretrained(cls, model_dir: Path) -> EncoderCTCPretrainer:
        """Load a directory written by :func:`save_whisper` (encoder + CTC head)."""
        model_dir = Path(model_dir)
        head_file = model_dir / CTC_HEAD_FILE
        if not head_file.is_file():
            raise UserError(f"no {CTC_HEAD_FILE}: not a stand-in encoder directory", model_dir)
        encoder = load_whisper_encoder(model_dir)
        model = cls(encoder.config)
        model.encoder = encoder
        model.ctc_head.load_state_dict(load_file(str(head_file)))
        return model


def ctc_greedy_decode(log_probs: torch.Tensor, lens: torch.Tensor) -> list[str]:
    """Best-path decoding: argmax per frame, merge repeats, drop blanks."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for row, n in zip(best, lens.tolist()):
        ids = torch.unique_consecutive(row[:n]).tolist()
        out.append(" ".join("".join(CTC_ALPHABET[i - 1] for i in ids if i != BLANK).split()))
    return out


def save_whisper(pretrainer: EncoderCTCPretrainer, out_dir: Path, seed: int = 0) -> None:
    """Write ``out_dir`` so that ``WhisperModel.from_pretrained(out_dir)`` loads the trained
    encoder (and ``WhisperFeatureExtractor.from_pretrained`` the matching n_mels)."""
    config = pretrainer.config
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the unused decoder: random, but reproducible
        model = WhisperModel(config)
    model.encoder.load_state_dict(pretrainer.encoder.state_dict())
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(tmp)
        head = {
            k: v.detach().contiguous().cpu() for k, v in pretrainer.ctc_head.state_dict().items()
        }
        save_file(head, str(tmp / CTC_HEAD_FILE))
        meta = {"alphabet": CTC_ALPHABET, "blank": BLANK}
        (tmp / CTC_META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


class EncoderCTCCollator:
    """Records ``{"feats": (T, n_mels) tensor, "text": str}`` -> ``{"feats" (B, n_mels,
    T_max) zero-padded, "feat_lens", "texts"}``, the batch :class:`EncoderCTCPretrainer`
    takes."""

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        feats = [torch.as_tensor(r["feats"], dtype=torch.float32) for r in records]
        lens = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
        batch = torch.zeros(len(feats), feats[0].shape[1], int(lens.max()))
        for i, f in enumerate(feats):
            batch[i, :, : f.shape[0]] = f.T
        return {"feats": batch, "feat_lens": lens, "texts": [r["text"] for r in records]}

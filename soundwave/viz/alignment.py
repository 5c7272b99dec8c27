"""What the alignment adapter and the shrinking bridge do to one utterance.

The picture: the Whisper log-mel spectrogram; under it the adapter's 25 Hz CTC argmax
labels (token pieces over their frames, blanks as light dots) with the frames the bridge
kept shaded; markers on the spectrogram at the kept frames.  Only for bridges with a CTC
head (``runs``, ``peaks``, ``none``).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import torch
from lhotse import CutSet
from lhotse.cut import Cut
from matplotlib.figure import Figure

from soundwave.data.collate import batch_features
from soundwave.errors import UserError
from soundwave.features.fbank import FRAME_RATE
from soundwave.models import SoundwaveModel
from soundwave.viz.figure import new_figure

ENCODER_STRIDE = 2  # Whisper's second convolution: 100 Hz log-mel -> 50 Hz frames
MAX_PIECE = 14  # characters of a token piece shown under its frame


@dataclass
class AlignmentView:
    """Everything the picture shows, computed once (and checkable without a picture)."""

    cut_id: str
    transcript: str
    feats: np.ndarray  # (T, n_mels) log-mel at FRAME_RATE
    frame_s: float  # seconds per adapter frame (0.04 at 25 Hz)
    labels: list[int]  # CTC argmax per adapter frame (the utterance's frames only)
    pieces: list[str]  # readable token piece per frame; "" for blank
    blank: int
    kept: list[int]  # adapter frames kept by the bridge, one per LLM position
    num_tokens: int  # LLM tokens of the transcript
    ctc_text: str  # greedy CTC transcript

    @property
    def num_frames(self) -> int:
        return len(self.labels)

    def runs(self) -> list[tuple[int, int, str]]:
        """Non-blank runs of equal labels: (first frame, end frame, piece)."""
        out = []
        start = 0
        for t in range(1, self.num_frames + 1):
            if t == self.num_frames or self.labels[t] != self.labels[start]:
                if self.labels[start] != self.blank:
                    out.append((start, t, self.pieces[start]))
                start = t
        return out

    def summary(self) -> str:
        return (
            f"{self.num_frames} adapter frames -> {len(self.kept)} LLM positions "
            f"({self.num_tokens} tokens)"
        )


def pick_cut(
    cuts: CutSet, utt: str | None = None, index: int = 0, source: str | None = None
) -> Cut:
    """The cut with id ``utt``, else the ``index``-th one (``source`` names the manifest in
    errors)."""
    for i, cut in enumerate(cuts):
        if (cut.id == utt) if utt is not None else i == index:
            if not cut.has_features:
                raise UserError(f"cut {cut.id} has no features (run the fbank stage first)", source)
            return cut
    if utt is not None:
        raise UserError(f"no cut with id {utt!r} in the manifest", source)
    raise UserError(f"the manifest has no cut number {index} (0-based)", source)


def _transcript(cut: Cut) -> str:
    return " ".join(s.text for s in cut.supervisions if s.text)


def piece_text(tokenizer, token_id: int) -> str:
    """A token as readable text: a word-initial space as '▁', bytes decoded (byte-level BPE
    pieces such as 'Ġthe' or 'Ã¼' read as '▁the' and 'ü'); a partial UTF-8 character
    falls back to the raw token, a control character reads as '<0x17>'."""
    text = tokenizer.decode([token_id])
    if not text or "\ufffd" in text:
        return str(tokenizer.convert_ids_to_tokens(token_id))
    return printable(text.replace(" ", "▁").replace("\n", "↵"))


def printable(text: str) -> str:
    """Control characters as '<0x17>' (the font has no glyph for them)."""
    return "".join(c if c.isprintable() else f"<0x{ord(c):02X}>" for c in text)


@torch.no_grad()
def compute_alignment(model: SoundwaveModel, cut: Cut) -> AlignmentView:
    """Run the encoder, adapter, CTC head and bridge on ``cut``'s stored features."""
    if not model.cfg.has_ctc:
        raise UserError(
            f"bridge={model.cfg.bridge} has no CTC head: there is no alignment to plot "
            "(use a runs, peaks or none model)"
        )
    batch, lens, tails = batch_features(CutSet.from_cuts([cut]))
    feats = batch[0].numpy()
    x, lens = batch.transpose(1, 2).to(model.device), lens.to(model.device)
    tails = None if tails is None else tails.transpose(1, 2).to(model.device)
    was_training = model.training
    model.eval()  # no dropout in the adapter or the look-back
    try:
        enc = model.encode_audio(x, lens, feat_tails=tails)
        ctc_text = model.ctc_transcribe(x, lens, feat_tails=tails)[0]
    finally:
        model.train(was_training)
    n = int(enc.frame_lens[0])
    labels = enc.ctc_logits[0, :n].argmax(-1).tolist()
    blank = model.audio_token_id
    cache: dict[int, str] = {}
    pieces = [
        "" if t == blank else cache.setdefault(t, piece_text(model.tokenizer, t)) for t in labels
    ]
    kept = [int(i) for i in enc.kept_index[0, : int(enc.lengths[0])].tolist() if i >= 0]
    transcript = _transcript(cut)
    tokens = model.tokenizer(transcript, add_special_tokens=False).input_ids if transcript else []
    return AlignmentView(
        cut_id=cut.id,
        transcript=transcript,
        feats=feats,
        frame_s=ENCODER_STRIDE * model.cfg.stack / FRAME_RATE,
        labels=labels,
        pieces=pieces,
        blank=blank,
        kept=kept,
        num_tokens=len(tokens),
        ctc_text=ctc_text,
    )


def plot_alignment(view: AlignmentView) -> Figure:
    """Spectrogram above, CTC labels and kept frames below, on one time axis (seconds)."""
    fs = view.frame_s
    duration = max(view.feats.shape[0] / FRAME_RATE, view.num_frames * fs)
    # ~3.4 inches per second leaves room for one rotated piece per 25 Hz frame
    width = float(np.clip(1.5 + 3.4 * duration, 8.0, 40.0))
    fig = new_figure(width, 5.6)
    spec, strip = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1.4]})
    n_mels = view.feats.shape[1]
    spec.imshow(
        view.feats.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(0.0, view.feats.shape[0] / FRAME_RATE, 0.0, float(n_mels)),
    )
    kept_x = [(t + 0.5) * fs for t in view.kept]
    shrinks = len(view.kept) < view.num_frames
    if shrinks:  # lines at every frame of an unshrunk model would hide the spectrogram
        spec.vlines(kept_x, 0, n_mels, colors="cyan", lw=0.7, alpha=0.55)
    spec.plot(kept_x, [n_mels * 0.97] * len(kept_x), "v", color="cyan", ms=4, clip_on=False)
    spec.set_ylabel("log-mel bin")
    spec.set_ylim(0, n_mels)

    for t in view.kept:  # inset, so that neighbouring kept frames stay apart
        strip.axvspan((t + 0.08) * fs, (t + 0.92) * fs, color="tab:green", alpha=0.25, lw=0)
    blanks = [(t + 0.5) * fs for t, lab in enumerate(view.labels) if lab == view.blank]
    strip.plot(blanks, [0.5] * len(blanks), ".", color="0.75", ms=3)
    for k, (start, end, piece) in enumerate(view.runs()):
        color = f"C{k % 2}"
        strip.plot([start * fs, end * fs], [0.04, 0.04], color=color, lw=3, solid_capstyle="butt")
        strip.text(
            (start + 0.5) * fs,
            0.1,
            piece if len(piece) <= MAX_PIECE else piece[: MAX_PIECE - 1] + "…",
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=8,
            color=color,
        )
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_ylabel(f"CTC argmax\n({1 / fs:g} Hz)")
    strip.set_xlim(0, duration)
    strip.set_xlabel("time (s)")
    strip.legend(
        handles=[
            strip.fill_between([], [], color="tab:green", alpha=0.25, label="kept by\nthe bridge"),
            strip.plot([], [], ".", color="0.75", label="blank")[0],
        ],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="small",
        frameon=False,
    )
    wrap = max(60, int(width * 9))
    title = textwrap.fill(f"{view.cut_id}: “{view.transcript}”", wrap)
    ctc = textwrap.fill(f"CTC: {printable(view.ctc_text) or '(empty)'}", wrap)
    fig.suptitle(f"{title}\n{ctc}\n{view.summary()}", fontsize="medium")
    return fig

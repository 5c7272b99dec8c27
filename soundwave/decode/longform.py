"""Long recordings: cut an utterance at the adapter's CTC blank runs, decode the pieces, join.

An utterance longer than ``max_segment_s`` is encoded once (the encoder goes window by
window, :mod:`soundwave.models.encoder`); the adapter's CTC posteriors over it (the adapter
run on windows of ``max_segment_s``, about the length it was trained on) say where the
blanks are; :func:`split_points` cuts it into pieces of at most ``max_segment_s`` at the
longest blank runs; each piece's encoder frames then go through the adapter, the bridge
and the LLM as an utterance of their own (pieces batched), and the answers are joined in
order with spaces.  Joining only makes sense where the answer follows the audio in time:
transcription and translation (:func:`joins_pieces`); other tasks answer on the whole.

The split rule, in adapter frames (``50 / stack`` per second): from the start ``s`` of the
rest, while more than ``max_frames`` remain, cut at the centre of the longest run of at
least ``min_blank`` blank frames (argmax = blank) that starts after ``s`` within the next
``max_frames`` (preferring runs in the second half of that window, so that pieces are not
needlessly short; the centre is moved into the window if the run reaches past it).  With
no such run: the longest shorter blank run; with no blank at all, the boundary between two
different tokens with the highest blank posterior, else the window's end.  A cut never
falls between two frames of the same token (unless a whole window is one token), and the
pieces tile the utterance: no frame is lost or repeated.  ``split_blank_s`` > 0 first
cuts at the centre of every pause at least that long: for a model whose LLM only ever
heard one sentence at a time, which given a piece of several answers about one of them.
A pause is a run of frames that are blank and, where the log-mel is at hand, quiet (their
energy in the lowest ``quiet_level`` of the way from the utterance's quietest frame to
its loud ones): a CTC model also emits long blank runs inside words, and its blanks around
the edges of a segmentation window say little; the signal tells those from silence.
Frames encoded ahead of time (the encoder-output cache) have no log-mel: there a pause
is a blank run alone.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from soundwave.config import require
from soundwave.models.adapter import ctc_greedy
from soundwave.models.soundwave import AudioEncoding
from soundwave.tasks import get_task

# answers that follow the audio in time, so that the answers of consecutive pieces joined
# are the answer of the whole
JOINED_METRICS = ("wer", "cer", "bleu")


@dataclass
class LongFormConfig:
    max_segment_s: float = 20.0  # longer utterances are cut into pieces of at most this
    min_blank: int = 3  # adapter frames (of 40 ms at stack 2): a shorter blank run is a last resort
    window_batch: int = 16  # pieces (and segmentation windows) per adapter/LLM call
    # >0: also cut at every blank run at least this long (a pause between sentences), for
    # a model whose LLM was trained on single sentences; 0: cut only to keep pieces short
    split_blank_s: float = 0.25
    # a frame is quiet if its log-mel energy lies in this share of the way from the
    # utterance's quietest frame to its 95th percentile (pauses must be quiet; 1: any)
    quiet_level: float = 0.2
    # each piece of a cut utterance is encoded again on its own, as utterances were in
    # training (the recording's 30 s windows made every frame attend to other sentences);
    # needs the log-mel, so not from cached encoder outputs
    reencode: bool = True

    def __post_init__(self) -> None:
        ok = isinstance(self.max_segment_s, (int, float)) and math.isfinite(self.max_segment_s)
        require(ok and self.max_segment_s >= 1, "max_segment_s", "must be at least 1 second")
        require(self.min_blank >= 1, "min_blank", "must be at least 1")
        require(self.window_batch >= 1, "window_batch", "must be at least 1")
        require(self.split_blank_s >= 0, "split_blank_s", "must be >= 0 (0: off)")
        require(0 < self.quiet_level <= 1, "quiet_level", "must be in (0, 1]")


def joins_pieces(task: str) -> bool:
    """Whether ``task``'s answers of consecutive pieces, joined, answer the whole: a
    transcript or a translation of the audio, asked without a per-utterance question."""
    spec = get_task(task)
    return spec.metric in JOINED_METRICS and spec.instruction_field is None


def _runs(mask: list[bool]) -> list[tuple[int, int]]:
    """[start, end) of every run of True in ``mask``."""
    runs, start = [], None
    for i, m in enumerate([*mask, False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            runs.append((start, i))
            start = None
    return runs


def split_points(
    labels: torch.Tensor,
    blank: int,
    max_frames: int,
    min_blank: int = 3,
    blank_prob: torch.Tensor | None = None,
    split_blank: int = 0,
    quiet: torch.Tensor | None = None,
) -> list[tuple[int, int]]:
    """Pieces ``[start, end)`` tiling ``labels`` (T,), the CTC argmax of each frame, each at
    most ``max_frames`` long, cut at blank runs as the module's docstring says.
    ``blank_prob`` (T,) ranks the fallback cuts between tokens.  ``split_blank`` > 0 also
    cuts at the centre of every pause at least that long (not at the very start or end):
    pieces of one sentence each, for an LLM that only ever heard one; ``quiet`` (T,) bool
    marks the frames a pause may cover (default: every frame)."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, not {max_frames}")
    labels = labels.tolist()
    total = len(labels)
    runs = _runs([lab == blank for lab in labels])
    probs = blank_prob.tolist() if blank_prob is not None else [0.0] * total
    bounds = [0]
    if split_blank > 0:
        still = quiet.tolist() if quiet is not None else [True] * total
        pauses = _runs([lab == blank and q for lab, q in zip(labels, still, strict=True)])
        bounds += [(a + b) // 2 for a, b in pauses if b - a >= split_blank and a > 0 and b < total]
    bounds = _heard_in_each([*bounds, total], labels, blank)
    pieces = []
    for lo, hi in itertools.pairwise(bounds):
        pieces += _fit(labels, runs, probs, lo, hi, max_frames, min_blank)
    return pieces


def _heard_in_each(bounds: list[int], labels: list[int], blank: int) -> list[int]:
    """Drop the pause cuts that would leave a piece in which CTC hears no token (a stretch
    of silence at the end of a recording, between two close pauses): it joins the piece
    after it (the last one, the piece before), since the LLM asked to transcribe silence
    makes a sentence up."""

    def heard(a: int, b: int) -> bool:
        return any(lab != blank for lab in labels[a:b])

    kept = [bounds[0]]
    for b in bounds[1:-1]:
        if heard(kept[-1], b):
            kept.append(b)
    if len(kept) > 1 and not heard(kept[-1], bounds[-1]):
        kept.pop()
    return [*kept, bounds[-1]]


def _fit(
    labels: list[int],
    runs: list[tuple[int, int]],
    probs: list[float],
    start: int,
    total: int,
    max_frames: int,
    min_blank: int,
) -> list[tuple[int, int]]:
    """:func:`split_points`' greedy rule on frames ``[start, total)``."""
    pieces = []
    while total - start > max_frames:
        end = start + max_frames  # the last allowed cut
        half = start + max_frames // 2

        def centre(run: tuple[int, int], lo: int = start + 1, hi: int = end) -> int:
            return min(max((run[0] + run[1]) // 2, lo), hi)

        inside = [r for r in runs if start < r[0] <= end]
        cut = None
        for pool in (
            [r for r in inside if r[1] - r[0] >= min_blank and centre(r) > half],
            [r for r in inside if r[1] - r[0] >= min_blank],
            inside,
        ):
            if pool:  # the longest; of equal ones the latest (fewer, longer pieces)
                cut = centre(max(pool, key=lambda r: (r[1] - r[0], r[0])))
                break
        if cut is None:  # no blank: between two different tokens, where blank is likeliest
            changes = [c for c in range(start + 1, end + 1) if labels[c - 1] != labels[c]]
            cut = max(changes, key=lambda c: (probs[c - 1] + probs[c], c)) if changes else end
        pieces.append((start, cut))
        start = cut
    pieces.append((start, total))
    return pieces


@dataclass
class Piece:
    start: float  # seconds
    end: float
    hyp: str


@dataclass
class LongFormResult:
    hyps: list[str]
    ctc_hyps: list[str]
    frames_in: list[int]  # adapter frames, summed over pieces
    frames_out: list[int]  # LLM positions, summed over pieces
    pieces: list[list[Piece]]  # each utterance's pieces, in order
    encoder_frames: list[int]  # 50 Hz encoder frames of each utterance


def _batched(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pad(frames: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(f) for f in frames], device=frames[0].device)
    return torch.nn.utils.rnn.pad_sequence(frames, batch_first=True), lens


def quiet_frames(
    feats: torch.Tensor, feat_lens: torch.Tensor, frames: int, level: float
) -> torch.Tensor:
    """(B, ``frames``) bool: which 50 Hz encoder frames (two log-mel frames each) of each
    utterance of the log-mel ``feats`` (B, n_mels, T) are quiet, as
    :class:`LongFormConfig` ``quiet_level`` says; frames past an utterance's end are not."""
    energy = feats.float().mean(1)[:, : 2 * frames]
    energy = torch.nn.functional.pad(energy, (0, 2 * frames - energy.shape[1]))
    energy = energy.reshape(len(feats), frames, 2).mean(-1)
    out = torch.zeros(len(feats), frames, dtype=torch.bool)
    for b, n in enumerate(((feat_lens + 1) // 2).clamp(1, frames).tolist()):
        e = energy[b, :n]
        low, high = float(e.min()), float(torch.quantile(e, 0.95))
        out[b, :n] = e <= low + level * (high - low)
    return out


@torch.no_grad()
def segment(
    model: torch.nn.Module,
    x: torch.Tensor,
    lens: torch.Tensor,
    cfg: LongFormConfig,
    quiet: torch.Tensor | None = None,
) -> list[list[tuple[int, int]]]:
    """Each utterance's pieces, in 50 Hz encoder frames, from encoder frames (B, T50, d)
    and, where the log-mel is at hand, which of those frames are quiet (B, T50).

    The adapter sees windows of ``max_segment_s`` (it was trained on utterances, not on
    minutes: attention over a whole recording would be spread over far more frames).
    """
    stack = model.cfg.stack
    window = max(stack, int(cfg.max_segment_s * 50) // stack * stack)
    spans = [
        (b, s, min(s + window, n)) for b, n in enumerate(lens.tolist()) for s in range(0, n, window)
    ]
    labels: list[list[torch.Tensor]] = [[] for _ in range(len(lens))]
    probs: list[list[torch.Tensor]] = [[] for _ in range(len(lens))]
    blank = model.audio_token_id
    for group in _batched(spans, cfg.window_batch):
        _, out_lens, logits = model.adapt_frames(*_pad([x[b, s:e] for b, s, e in group]))
        logits = logits.float()
        for (b, _, _), row, n in zip(group, logits, out_lens.tolist()):
            labels[b].append(row[:n].argmax(-1).cpu())
            probs[b].append(row[:n].softmax(-1)[:, blank].cpu())
    max_frames = max(1, int(cfg.max_segment_s * 50) // stack)
    pieces = []
    for b, n in enumerate(lens.tolist()):
        lab, prob = torch.cat(labels[b]), torch.cat(probs[b])
        split = math.ceil(cfg.split_blank_s * 50 / stack)
        still = None
        if quiet is not None:  # an adapter frame is quiet if most of its frames are
            q = quiet[b, : len(lab) * stack].float()
            q = torch.nn.functional.pad(q, (0, len(lab) * stack - len(q)))
            still = q.reshape(len(lab), stack).mean(-1) > 0.5
        cuts = split_points(lab, blank, max_frames, cfg.min_blank, prob, split, still)
        pieces.append([(a * stack, min(e * stack, n)) for a, e in cuts])
    return pieces


@torch.no_grad()
def long_form_generate(
    model: torch.nn.Module,
    audio: dict,
    instructions: list[str],
    cfg: LongFormConfig,
    gen_kwargs: dict,
) -> LongFormResult:
    """Decode a batch (``audio``: the model's audio arguments) piece by piece and join.

    An utterance short enough to be one piece is decoded as without long-form decoding;
    a piece of a longer one gets at least as many new tokens as twice its CTC
    transcript's tokens (and eight more), so that it is not cut by a ``max_new_tokens``
    meant for one sentence.
    """
    model.eval()
    x, lens = model.encoder_frames(
        audio.get("feats"), audio.get("feat_lens"), audio.get("encoded"), audio.get("feat_tails")
    )
    lens = lens.to(x.device)
    if int(lens.max()) > x.shape[1]:
        raise ValueError("encoder lengths exceed its frames")
    quiet = None
    if cfg.split_blank_s > 0 and audio.get("feats") is not None:
        quiet = quiet_frames(audio["feats"], audio["feat_lens"], x.shape[1], cfg.quiet_level)
    pieces = segment(model, x, lens, cfg, quiet)
    flat = [(b, s, e) for b, ps in enumerate(pieces) for s, e in ps]
    hyps: list[list[str]] = [[] for _ in pieces]
    ctcs: list[list[str]] = [[] for _ in pieces]
    fin, fout = [0] * len(pieces), [0] * len(pieces)
    base_new = int(gen_kwargs.get("max_new_tokens", 64))
    split = [len(ps) > 1 for ps in pieces]
    # whole utterances and pieces apart: one generate call has one max_new_tokens
    groups = [
        *_batched([p for p in flat if not split[p[0]]], cfg.window_batch),
        *_batched([p for p in flat if split[p[0]]], cfg.window_batch),
    ]
    for group in groups:  # in flat's order within each kind: an utterance's pieces in order
        frames, flens = _pad([x[b, s:e] for b, s, e in group])
        if cfg.reencode and split[group[0][0]] and audio.get("feats") is not None:
            frames, flens = _encode_pieces(model, audio["feats"], audio["feat_lens"], group)
        enc = model.encode_frames(frames, flens)
        ctc_ids = ctc_token_ids(model, enc)
        budget = base_new
        if split[group[0][0]]:
            budget = max(base_new, *(2 * len(ids) + 8 for ids in ctc_ids))
        texts = model.generate(
            None,
            None,
            [instructions[b] for b, _, _ in group],
            encoding=enc,
            **{**gen_kwargs, "max_new_tokens": budget},
        )
        ctc_texts = model.tokenizer.batch_decode(ctc_ids, skip_special_tokens=True)
        for k, (b, _, _) in enumerate(group):
            hyps[b].append(" ".join(texts[k].split()))  # one line per piece in pieces.txt
            ctcs[b].append(" ".join(ctc_texts[k].split()))
            fin[b] += int(enc.frame_lens[k])
            fout[b] += int(enc.lengths[k])
    return LongFormResult(
        hyps=[" ".join(" ".join(h).split()) for h in hyps],
        ctc_hyps=[" ".join(" ".join(c).split()) for c in ctcs],
        frames_in=fin,
        frames_out=fout,
        pieces=[
            [Piece(s / 50.0, e / 50.0, h) for (s, e), h in zip(ps, hs, strict=True)]
            for ps, hs in zip(pieces, hyps, strict=True)
        ],
        encoder_frames=lens.tolist(),
    )


def _encode_pieces(
    model: torch.nn.Module,
    feats: torch.Tensor,
    feat_lens: torch.Tensor,
    group: list[tuple[int, int, int]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder frames of pieces ``(b, start, end)`` (50 Hz), each encoded on its own from
    its stretch of the log-mel ``feats`` (B, n_mels, T)."""
    stretches = [feats[b, :, 2 * s : min(2 * e, int(feat_lens[b]))] for b, s, e in group]
    lens = torch.tensor([st.shape[-1] for st in stretches])
    padded = torch.nn.utils.rnn.pad_sequence([st.T for st in stretches], batch_first=True)
    return model.encoder_frames(padded.transpose(1, 2), lens, None)


def ctc_token_ids(model: torch.nn.Module, enc: AudioEncoding) -> list[list[int]]:
    """Greedy CTC token ids of each utterance of an audio encoding."""
    return ctc_greedy(enc.ctc_logits, enc.frame_lens, model.audio_token_id)

"""Batched decoding: LLM generation, the adapter's CTC transcript and shrink statistics,
the CTC guard (:mod:`soundwave.score.guard`) and the time to the first token.

Outputs are Kaldi-style ``<utt-id> <text>`` files, so that ``soundwave.bin.score`` (and
any Kaldi/ESPnet scoring script) reads them directly.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from lhotse import CutSet

from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import audio_inputs, batch_seconds, move_to
from soundwave.decode.longform import LongFormConfig, Piece, joins_pieces, long_form_generate
from soundwave.score.guard import GUARD_MODES, GuardLimits, Verdict, answers_with_transcript, check


@dataclass
class GenerationConfig:
    max_new_tokens: int = 64
    # per-task caps (e.g. {gender: 6, qa: 16}): a short-answer task needs few tokens, and a
    # model that has not learnt to stop yet would otherwise ramble to max_new_tokens
    max_new_tokens_by_task: dict[str, int] = field(default_factory=dict)
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    # >0: no token n-gram of this size twice in an answer (cuts the loops of a model that
    # has not learnt to stop: "sixty sixty sixty ..."); the task's text must not need one
    no_repeat_ngram_size: int = 0

    def kwargs(self, task: str | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens_by_task.get(task, self.max_new_tokens),
            "num_beams": self.num_beams,
        }
        if self.do_sample:
            kw.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        if self.repetition_penalty != 1.0:
            kw["repetition_penalty"] = self.repetition_penalty
        if self.no_repeat_ngram_size:
            kw["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return kw


@dataclass
class DecodeConfig:
    mode: str = "generate"  # generate (the LLM) | ctc (the adapter's greedy CTC transcript)
    with_ctc: bool = False
    with_stats: bool = True
    # the user turn for every utterance (e.g. "Please transcribe the audio."), instead of
    # the task's evaluation phrasing; the task still names the reference and the metric
    instruction: str | None = None
    # false: decode utterances without a reference for the task too (ref ""): blind sets
    need_target: bool = True
    data: DataConfig = field(
        default_factory=lambda: DataConfig(sampler="simple", max_duration=60.0)
    )
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    # the CTC guard (soundwave/score/guard.py): off | flag (guard.txt beside hyp.txt) |
    # fallback (also: a flagged transcription hypothesis becomes the CTC transcript);
    # without with_ctc, flag judges repetition and length only (a model without a CTC head)
    guard: str = "off"
    guard_limits: GuardLimits = field(default_factory=GuardLimits)
    # >0: after decoding, time this many utterances at batch 1 from log-mel to the first
    # (greedy) token; decode.json gets the times and their median
    measure_ttft: int = 0
    # long recordings (soundwave/decode/longform.py): true = an utterance longer than
    # long_form_cfg.max_segment_s is cut at the adapter's CTC blank runs, its pieces decoded
    # and the answers joined, for transcription and translation tasks (others answer on the
    # whole, as does a model without a CTC head) | false = every utterance whole
    long_form: bool = True
    long_form_cfg: LongFormConfig = field(default_factory=LongFormConfig)

    def __post_init__(self) -> None:
        if self.mode not in ("generate", "ctc"):
            raise ValueError(f"mode must be generate or ctc, not '{self.mode}'")
        if self.guard not in GUARD_MODES:
            raise ValueError(f"guard must be one of {', '.join(GUARD_MODES)}, not '{self.guard}'")
        if self.guard != "off" and self.mode != "generate":
            raise ValueError(
                f"guard: {self.guard} checks the LLM's answers: it needs mode: generate"
            )
        if self.guard == "fallback" and not self.with_ctc:
            raise ValueError(
                "guard: fallback falls back to the CTC transcript: it needs with_ctc: true"
            )
        if self.measure_ttft < 0:
            raise ValueError(f"measure_ttft must be >= 0, not {self.measure_ttft}")
        if self.measure_ttft and self.mode != "generate":
            raise ValueError("measure_ttft times the LLM's first token: it needs mode: generate")
        if self.instruction is not None and not isinstance(self.instruction, str):
            raise ValueError(f"instruction must be a string, not {self.instruction!r}")


@dataclass
class DecodeResult:
    id: str
    task: str
    hyp: str
    ref: str
    ctc_hyp: str | None = None
    frames_in: int | None = None  # adapter frames (25 Hz) before shrinking
    frames_out: int | None = None  # positions fed to the LLM
    duration: float = 0.0
    transcript_tokens: int | None = None  # LLM tokens of the transcript (with the stats)
    llm_hyp: str | None = None  # the LLM's own hypothesis, where the guard is on
    guard: Verdict | None = None
    pieces: list[Piece] | None = None  # where decoded long-form: the pieces and their answers
    encoder_frames: int | None = None  # long-form: the 50 Hz encoder frames of the whole


@dataclass
class DecodeStats:
    utts: int = 0
    audio_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    ttft: list[float] = field(default_factory=list)  # seconds to the first token, batch 1

    @property
    def rtf(self) -> float:
        return self.elapsed_seconds / self.audio_seconds if self.audio_seconds else 0.0

    def add(self, seconds: list[float], elapsed: float) -> None:
        """Count one decoded batch: its utterances' durations and the time it took."""
        self.utts += len(seconds)
        self.audio_seconds += sum(seconds)
        self.elapsed_seconds += elapsed

    @property
    def ttft_median(self) -> float | None:
        return statistics.median(self.ttft) if self.ttft else None


def decode_cuts(
    model: torch.nn.Module,
    cuts: CutSet,
    task: str,
    cfg: DecodeConfig,
    max_utts: int | None = None,
    device: torch.device | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[DecodeResult]:
    """Decode ``task`` on every utterance of ``cuts`` that has a target for it, the LLM or
    (``cfg.mode`` "ctc") the adapter.

    ``cfg.with_ctc`` adds the CTC transcript and ``cfg.with_stats`` the shrink statistics
    and the transcript's token count next to the LLM output (both need a model with a CTC
    head).  ``cfg.guard`` judges every LLM hypothesis against the CTC transcript and, with
    ``fallback``, replaces a flagged one by it where the task's answer is the transcript.
    """
    mode, gen = cfg.mode, cfg.generation
    with_ctc, with_stats = cfg.with_ctc, cfg.with_stats and cfg.mode != "ctc"
    device = device or torch.device("cpu")
    guard, transcription = cfg.guard != "off", answers_with_transcript(task)
    fallback = cfg.guard == "fallback" and transcription
    model.eval()
    long_form = cfg.long_form and mode == "generate" and model.cfg.has_ctc and joins_pieces(task)
    batches = eval_batches(cuts, task, cfg.data, max_utts, cfg.instruction, cfg.need_target)
    for batch in batches:
        t0 = time.time()
        audio = move_to(audio_inputs(batch), device)
        durations = batch_seconds(batch)
        pieces: list[list[Piece] | None] = [None] * len(durations)
        enc_frames: list[int | None] = [None] * len(durations)
        with torch.no_grad():
            if mode == "ctc":
                hyps = ctc_hyps = model.ctc_transcribe(**audio)
                frames_in = frames_out = [None] * len(hyps)
            elif long_form and max(durations) > cfg.long_form_cfg.max_segment_s:
                # the whole batch: a short utterance is one piece, decoded as it would be
                out = long_form_generate(
                    model, audio, batch["instructions"], cfg.long_form_cfg, gen.kwargs(task)
                )
                hyps, pieces, enc_frames = out.hyps, out.pieces, out.encoder_frames
                ctc_hyps = out.ctc_hyps if with_ctc else [None] * len(hyps)
                frames_in = out.frames_in if with_stats else [None] * len(hyps)
                frames_out = out.frames_out if with_stats else [None] * len(hyps)
            else:
                # one pass through the encoder serves the LLM, the CTC transcript and the stats
                enc = model.encode_audio(**audio)
                hyps = model.generate(
                    None, None, batch["instructions"], encoding=enc, **gen.kwargs(task)
                )
                ctc_hyps = (
                    model.ctc_text(enc.ctc_logits, enc.frame_lens)
                    if with_ctc
                    else [None] * len(hyps)
                )
                frames_in = enc.frame_lens.tolist() if with_stats else [None] * len(hyps)
                frames_out = enc.lengths.tolist() if with_stats else [None] * len(hyps)
        if stats is not None:
            stats.add(durations, time.time() - t0)
        for i, utt in enumerate(batch["ids"]):
            hyp = " ".join(hyps[i].split())
            ctc = None if ctc_hyps[i] is None else " ".join(ctc_hyps[i].split())
            transcript = batch["transcripts"][i]
            result = DecodeResult(
                id=utt,
                task=batch["tasks"][i],
                hyp=hyp,
                ref=batch["targets"][i] if mode != "ctc" else transcript,
                ctc_hyp=ctc,
                frames_in=frames_in[i],
                frames_out=frames_out[i],
                duration=durations[i],
                pieces=pieces[i],
                encoder_frames=enc_frames[i],
            )
            if with_stats and transcript:
                result.transcript_tokens = len(
                    model.tokenizer(transcript, add_special_tokens=False).input_ids
                )
            if guard:
                verdict = check(hyp, ctc, durations[i], cfg.guard_limits, transcription)
                result.llm_hyp, result.guard = hyp, verdict
                if fallback and verdict.flagged:
                    result.hyp = ctc or ""
            yield result


def first_token_seconds(
    model: torch.nn.Module,
    cuts: CutSet,
    task: str,
    cfg: DecodeConfig,
    device: torch.device | None = None,
) -> list[float]:
    """Time to first token at batch 1 of ``cfg.measure_ttft`` utterances spread over
    ``cuts``: seconds from the log-mel in memory to the first greedy token (encoder,
    adapter, bridge, LLM prefill and one step).  The encoder runs even where decoding reads
    its stored outputs (``data.encoder_cache``): a response to new audio includes it.  One
    untimed run first, so that lazy initialisation is not counted."""
    device = device or torch.device("cpu")
    model.eval()
    one = dataclasses.replace(cfg.data, max_cuts=1, encoder_cache=False)
    # loaded beforehand: reading features from disk is not part of the response
    batches = list(
        eval_batches(cuts, task, one, cfg.measure_ttft, cfg.instruction, cfg.need_target)
    )
    times = []
    for k, batch in enumerate([batches[0], *batches] if batches else []):
        start = time.perf_counter()
        audio = move_to(audio_inputs(batch), device)
        with torch.no_grad():
            enc = model.encode_audio(**audio)
            model.generate_ids(
                None, None, batch["instructions"], max_new_tokens=1, num_beams=1, encoding=enc
            )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if k > 0:
            times.append(time.perf_counter() - start)
    return times

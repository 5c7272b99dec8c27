"""Batched decoding: LLM generation, the adapter's CTC transcript and shrink statistics.

Outputs are Kaldi-style ``<utt-id> <text>`` files, so that ``soundwave.bin.score`` (and
any Kaldi/ESPnet scoring script) reads them directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from lhotse import CutSet

from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import audio_inputs


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

    def __post_init__(self) -> None:
        if self.mode not in ("generate", "ctc"):
            raise ValueError(f"mode must be generate or ctc, not '{self.mode}'")
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


@dataclass
class DecodeStats:
    utts: int = 0
    audio_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        return self.elapsed_seconds / self.audio_seconds if self.audio_seconds else 0.0


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
    next to the LLM output (both need a model with a CTC head).
    """
    mode, gen = cfg.mode, cfg.generation
    with_ctc, with_stats = cfg.with_ctc, cfg.with_stats and cfg.mode != "ctc"
    device = device or torch.device("cpu")
    model.eval()
    batches = eval_batches(cuts, task, cfg.data, max_utts, cfg.instruction, cfg.need_target)
    for batch in batches:
        t0 = time.time()
        audio = {
            k: v.to(device) if torch.is_tensor(v) else v for k, v in audio_inputs(batch).items()
        }
        with torch.no_grad():
            if mode == "ctc":
                hyps = ctc_hyps = model.ctc_transcribe(**audio)
                frames_in = frames_out = [None] * len(hyps)
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
        durations = (batch["feat_lens"].double() / 100.0).tolist()
        if stats is not None:
            stats.utts += len(hyps)
            stats.audio_seconds += sum(durations)
            stats.elapsed_seconds += time.time() - t0
        for i, utt in enumerate(batch["ids"]):
            yield DecodeResult(
                id=utt,
                task=batch["tasks"][i],
                hyp=" ".join(hyps[i].split()),
                ref=batch["targets"][i] if mode != "ctc" else batch["transcripts"][i],
                ctc_hyp=None if ctc_hyps[i] is None else " ".join(ctc_hyps[i].split()),
                frames_in=frames_in[i],
                frames_out=frames_out[i],
                duration=durations[i],
            )

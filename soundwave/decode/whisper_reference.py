"""Whisper's own transcripts of a manifest: the reference a Soundwave model's ASR must beat.

A recipe whose encoder is a real Whisper (mini_synth's converted tiny.en) decodes its
evaluation sets with that Whisper's own decoder too, written like any stage-6 output
(``hyp.txt``, ``ref.txt``, ``decode.json``) so that scoring and RESULTS.md treat it as one
more row.  Each utterance is one 30 s window, exactly as Whisper transcribes a short file:
the stored log-mel padded as Whisper pads it (:func:`~soundwave.models.encoder.pad_window`);
audio past 30 s is cut, as Whisper's single-window transcription cuts it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from lhotse import CutSet

from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import batch_seconds
from soundwave.data.shards import read_shard
from soundwave.decode.decode import DecodeResult, DecodeStats
from soundwave.decode.outputs import decode_identity, shard_dir, write_results
from soundwave.errors import UserError
from soundwave.models.encoder import pad_window
from soundwave.models.weights import require_dir

WINDOW = 3000  # 10 ms frames in Whisper's 30 s window


@dataclass
class WhisperDecodeOptions:
    num_beams: int = 1
    max_new_tokens: int = 128
    # seconds of audio per batch: each utterance becomes a whole 30 s window, so a few
    # short utterances already make a large batch (bigger ones ran slower on the CPU)
    max_duration: float = 20.0


def load_whisper(path: str | Path):
    """An HF Whisper dir's model (eval, float32) and processor, or one line saying what is
    missing."""
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    src = require_dir(path, "Whisper")
    for name in ("config.json", "tokenizer.json"):
        if not (src / name).is_file():
            raise UserError(f"{name} missing: not a complete HF Whisper dir", src)
    model = WhisperForConditionalGeneration.from_pretrained(src, torch_dtype=torch.float32)
    return model.eval(), AutoProcessor.from_pretrained(src)


def whisper_transcripts(
    cuts: CutSet,
    whisper_dir: str | Path,
    opts: WhisperDecodeOptions | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[DecodeResult]:
    """Transcribe every cut with an ASR target by the Whisper's own encoder and decoder."""
    opts = opts or WhisperDecodeOptions()
    model, processor = load_whisper(whisper_dir)
    n_mels = model.config.num_mel_bins
    data = DataConfig(sampler="simple", max_duration=opts.max_duration, n_mels=n_mels)
    for batch in eval_batches(cuts, "asr", data):
        t0 = time.time()
        feats, lens = batch["feats"][..., :WINDOW], batch["feat_lens"].clamp(max=WINDOW)
        if feats.shape[1] != n_mels:
            raise UserError(
                f"the features have {feats.shape[1]} mel bins, the Whisper expects {n_mels}"
            )
        with torch.no_grad():
            ids = model.generate(
                pad_window(feats, lens, WINDOW),
                num_beams=opts.num_beams,
                max_new_tokens=opts.max_new_tokens,
            )
        hyps = processor.tokenizer.batch_decode(ids, skip_special_tokens=True)
        durations = batch_seconds(batch)
        if stats is not None:
            stats.add(durations, time.time() - t0)
        for utt, hyp, ref, dur in zip(batch["ids"], hyps, batch["targets"], durations):
            yield DecodeResult(id=utt, task="asr", hyp=" ".join(hyp.split()), ref=ref, duration=dur)


def decode_whisper_to_dir(
    whisper_dir: str | Path,
    cuts_path: str,
    out_dir: str | Path,
    opts: WhisperDecodeOptions | None = None,
    shard: str = "1/1",
) -> DecodeStats:
    """The stage-6 job of the Whisper reference: shard ``J/N`` of ``cuts_path`` into
    ``out_dir`` (``<out_dir>/shards/J`` when N > 1; merged like any decode)."""
    cuts, job, num = read_shard(cuts_path, shard)
    out = shard_dir(out_dir, job, num)
    stats = DecodeStats()
    results = list(whisper_transcripts(cuts, whisper_dir, opts, stats))
    write_results(out, results, stats, identity=decode_identity(whisper_dir, cuts_path, shard))
    return stats

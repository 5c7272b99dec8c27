"""Transcribe (or translate, or ask anything about) plain audio files with a trained model.

The files become lhotse cuts in memory (a ``wav.scp`` value each: a path, a ``cmd |`` pipe
or an ark entry), made 16 kHz mono as openai-whisper's ffmpeg makes them, exactly as a data
dir goes through ``make_manifests`` (:func:`~soundwave.features.fbank.to_mono_16k`); log-mel is computed on the fly by the training
extractor, and batches are made by the decoder's own :func:`~soundwave.decode.decode.decode_cuts`
(longest files first, ``batch_size`` files per ``generate`` call).  Audio longer than the
encoder's window goes through its window-by-window path; a file longer than
``max_segment_s`` is transcribed (or translated) piece by piece, cut at the adapter's CTC
blank runs, and the answers joined (:mod:`soundwave.decode.longform`); a task whose answer
is not a transcript or translation (qa, gender, ...) is answered on the whole recording.

A file that cannot be used (missing, not audio, empty, corrupt, too short) is reported on
one line and left out; the others are still transcribed.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from lhotse import CutSet, MonoCut, MultiCut

from soundwave.config import ConfigValueError
from soundwave.data.batches import DataConfig
from soundwave.data.lhotse_io import recording_of
from soundwave.data.tables import read_table
from soundwave.decode.decode import DecodeConfig, DecodeResult, GenerationConfig, decode_cuts
from soundwave.decode.longform import LongFormConfig
from soundwave.decode.outputs import write_lines
from soundwave.errors import UserError
from soundwave.features.fbank import load_cut_audio, to_mono_16k
from soundwave.models.stage_dir import load_stage
from soundwave.tasks import get_task

# as make_manifests' default --min-duration: the adapter needs a few encoder frames
MIN_SECONDS = 0.1
# lhotse warns that a command source (an ffmpeg conversion) is read whole for a part of it;
# infer's cuts are whole files
WHOLE_COMMAND_READ = ".*read from disk via a bash command"


@dataclass
class InferConfig:
    task: str = "asr"  # the task whose evaluation instruction is asked (unless instruction)
    instruction: str | None = None  # the user turn, e.g. "Please transcribe the audio."
    num_beams: int = 1
    max_new_tokens: int = 128
    batch_size: int = 8  # files per generate call
    max_batch_seconds: float = 600.0  # and at most this much audio in one call
    max_segment_s: float = 20.0  # longer files are decoded in pieces of at most this

    def decode_config(self, n_mels: int) -> DecodeConfig:
        """The decoder's config: on-the-fly features, no references, no statistics."""
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, not {self.batch_size}")
        task = get_task(self.task)
        if task.instruction_field is not None and self.instruction is None:
            raise UserError(
                f"task {self.task!r} asks each utterance's own question: pass --instruction"
            )
        try:
            long_form = LongFormConfig(max_segment_s=self.max_segment_s)
        except ConfigValueError as err:
            raise UserError(f"--max-segment-s {err.message}, not {self.max_segment_s}") from None
        return DecodeConfig(
            with_stats=False,
            long_form=True,
            long_form_cfg=long_form,
            instruction=self.instruction,
            need_target=False,
            data=DataConfig(
                sampler="simple",
                max_duration=self.max_batch_seconds,
                max_cuts=self.batch_size,
                on_the_fly=True,
                n_mels=n_mels,
            ),
            generation=GenerationConfig(
                max_new_tokens=self.max_new_tokens, num_beams=self.num_beams
            ),
        )


def ids_for_paths(paths: Iterable[str]) -> dict[str, str]:
    """Utterance id -> path: the file stem (whitespace as ``_``), ``-2``, ``-3``... when taken."""
    out: dict[str, str] = {}
    for path in paths:
        stem = re.sub(r"\s+", "_", Path(path).stem) or "audio"
        utt, n = stem, 1
        while utt in out:
            n += 1
            utt = f"{stem}-{n}"
        out[utt] = path
    return out


def audio_cut(utt: str, value: str) -> MonoCut | MultiCut:
    """A whole-recording cut of a ``wav.scp`` value (all channels), at its own rate."""
    rec = recording_of(utt, value)
    if rec.num_samples == 0:
        raise UserError("no audio (0 samples)", value.strip())
    return rec.to_cut()


def usable_cuts(inputs: dict[str, str], report: Callable[[str], None]) -> tuple[CutSet, list[str]]:
    """16 kHz cuts of the inputs that can be read, and the ids of those that cannot (each
    reported once through ``report`` as ``<file>: <what is wrong>``).

    Every file is decoded once here, so that a corrupt one is found before it shares a batch.
    """
    cuts, failed = [], []
    for utt, value in inputs.items():
        try:
            cut = audio_cut(utt, value)
            (cut,) = to_mono_16k(CutSet.from_cuts([cut]))
            if cut.duration < MIN_SECONDS:
                raise UserError(
                    f"too short ({cut.duration:.3f} s < {MIN_SECONDS} s)", value.strip()
                )
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=WHOLE_COMMAND_READ)
                samples = load_cut_audio(cut)  # NaN/inf samples too: the file is left out
            if samples.size == 0:
                raise UserError("no audio (0 samples)", value.strip())
        except UserError as err:
            failed.append(utt)
            report(err.one_line() if err.path else f"{value.strip()}: {err.one_line()}")
            continue
        except Exception as err:  # lhotse and its audio backends raise many types
            failed.append(utt)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            report(f"{value.strip()}: cannot read audio: {first}")
            continue
        cuts.append(cut)
    return CutSet.from_cuts(cuts), failed


def decode_files(
    model: torch.nn.Module, cuts: CutSet, cfg: InferConfig, device: torch.device | None = None
) -> list[DecodeResult]:
    """The decoder's results for cuts with audio (batched, longest first), with the pieces
    of each file decoded long-form."""
    dcfg = cfg.decode_config(model.encoder.n_mels)
    cuts = cuts.sort_by_duration(ascending=False)
    with warnings.catch_warnings():  # a handful of files in memory is what infer means to use
        warnings.filterwarnings("ignore", message=".*eagerly read CutSet")
        warnings.filterwarnings("ignore", message=WHOLE_COMMAND_READ)
        # a file longer than max_batch_seconds is a batch of its own, as wanted
        warnings.filterwarnings("ignore", message=".*exceeded the max_duration")
        return list(decode_cuts(model, cuts, cfg.task, dcfg, device=device))


def transcribe(
    model: torch.nn.Module, cuts: CutSet, cfg: InferConfig, device: torch.device | None = None
) -> dict[str, str]:
    """Utterance id -> the model's answer, for cuts with audio (batched, longest first)."""
    return {r.id: r.hyp for r in decode_files(model, cuts, cfg, device)}


def read_inputs(audio: list[str], wav_scp: str | None) -> dict[str, str]:
    """Utterance id -> ``wav.scp`` value, from file paths or a ``wav.scp`` (not both)."""
    if bool(audio) == bool(wav_scp):
        raise UserError("give audio files or --wav-scp (one of them)")
    if wav_scp:
        if not Path(wav_scp).is_file():
            raise UserError("wav.scp not found", wav_scp)
        return read_table(wav_scp)
    return ids_for_paths(audio)


def infer_files(
    model_dir: str | os.PathLike,
    inputs: dict[str, str],
    cfg: InferConfig,
    out: str | os.PathLike | None = None,
) -> int:
    """Answer ``cfg``'s instruction for every input (id -> ``wav.scp`` value) with the model
    of a stage dir; print ``<id> <text>`` lines in input order, or write them (sorted by
    id, atomically) to ``out``.  Unusable files get one line on stderr each.  Returns the
    number of those."""
    if not Path(model_dir).is_dir():
        raise UserError("model directory not found", model_dir)
    cfg.decode_config(80)  # argument errors before the model loads

    def report(line: str) -> None:
        print(f"infer: {line}", file=sys.stderr, flush=True)

    cuts, failed = usable_cuts(inputs, report)
    texts: dict[str, str] = {}
    if len(cuts):
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = load_stage(model_dir).to(device)
        texts = transcribe(model, cuts, cfg, device)
    lines = [f"{utt} {texts[utt]}" for utt in inputs if utt in texts]
    if out is not None:
        write_lines(Path(out), sorted(lines, key=lambda line: line.split(" ", 1)[0]))
    else:
        for line in lines:
            print(line.rstrip(), flush=True)
    return len(failed)

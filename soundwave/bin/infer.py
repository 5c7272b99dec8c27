"""Transcribe any audio files with a trained or imported model, with any instruction.

Usage:
    python -m soundwave.bin.infer --model-dir exp/mini/sft a.wav b.flac c.mp3
    python -m soundwave.bin.infer --model-dir exp/official \
        --instruction "Please transcribe the audio." --wav-scp data/test/wav.scp --out hyp.txt
    python -m soundwave.bin.infer --model-dir exp/mini/sft --task st_en_de talk.wav

Audio: any format the front end reads (wav, flac, mp3, ...), any sample rate (resampled to
16 kHz), any channel count (averaged), any length (longer than 30 s is encoded window by
window; longer than ``--max-segment-s``, 20 s by default, it is cut at the silences the
adapter's CTC hears and the pieces' transcripts or translations are joined in order;
``--task qa``, ``gender``... answer on the whole recording).  Output: ``<utt-id> <text>``
lines on stdout in input order, or a Kaldi-style text file (sorted by id, written
atomically) with ``--out``.  Utterance ids are the file stems (``-2``, ``-3``... for
repeats), or the ``wav.scp`` keys.  ``--task`` asks that task's evaluation instruction
(default asr); ``--instruction`` any other.  A file that
cannot be read gets one line on stderr and the others are still transcribed; the exit
status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.decode.infer import InferConfig, infer_files, read_inputs
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.infer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("audio", nargs="*", help="audio files")
    parser.add_argument("--model-dir", required=True, help="a stage dir (sft, import_official)")
    parser.add_argument("--wav-scp", help="Kaldi wav.scp instead of audio files")
    parser.add_argument("--out", help="write a Kaldi-style text file instead of stdout")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--instruction", help='e.g. "Please transcribe the audio."')
    group.add_argument("--task", default="asr", help="asr, st_en_de, ... (its instruction)")
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8, help="files per generate call")
    parser.add_argument(
        "--max-segment-s",
        type=float,
        default=20.0,
        help="longer files are transcribed in pieces of at most this many seconds",
    )
    args = parser.parse_args(argv)
    cfg = InferConfig(
        task=args.task,
        instruction=args.instruction,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        max_segment_s=args.max_segment_s,
    )
    failed = infer_files(args.model_dir, read_inputs(args.audio, args.wav_scp), cfg, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

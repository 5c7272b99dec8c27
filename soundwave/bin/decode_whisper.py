"""Transcribe a manifest with a Whisper's own decoder: the reference row of RESULTS.md.

    python -m soundwave.bin.decode_whisper --whisper-dir exp/whisper-tiny.en \\
        --cuts data/fbank/cuts_test.jsonl.gz --out-dir exp/mini/whisper/decode_test_asr \\
        [--shard J/N] [--num-beams 1]
    python -m soundwave.bin.decode --merge N --tasks asr --out-dir exp/mini/whisper/decode_test_asr

Writes what ``decode`` writes for the asr task (``hyp.txt``, ``ref.txt``, ``decode.json``),
so ``score`` and ``make_results`` show the Whisper next to the Soundwave stages.  Each
utterance is one 30 s window of the stored log-mel, padded as Whisper pads it.
"""

from __future__ import annotations

import argparse

from soundwave.decode.whisper_reference import WhisperDecodeOptions, decode_whisper_to_dir
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.decode_whisper",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--whisper-dir", required=True, help="HF Whisper dir (with tokenizer)")
    parser.add_argument("--cuts", required=True, help="CutSet manifest with log-mel features")
    parser.add_argument("--out-dir", required=True, help="output dir (hyp.txt, ref.txt, ...)")
    parser.add_argument("--shard", default="1/1", help="J/N: the J-th of N interleaved shards")
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument(
        "--max-duration", type=float, default=20.0, help="seconds of audio per batch"
    )
    args = parser.parse_args(argv)
    opts = WhisperDecodeOptions(args.num_beams, args.max_new_tokens, args.max_duration)
    stats = decode_whisper_to_dir(args.whisper_dir, args.cuts, args.out_dir, opts, args.shard)
    print(
        f"decode_whisper: {stats.utts} utts, {stats.audio_seconds:.1f} s audio, "
        f"RTF {stats.rtf:.3f} -> {args.out_dir}"
    )


if __name__ == "__main__":
    main()

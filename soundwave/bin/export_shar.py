"""Export a cuts manifest and its stored data to lhotse Shar shards, for streaming training.

Usage:
    python -m soundwave.bin.export_shar --cuts data/fbank/cuts_train.jsonl.gz \
        --out data/shar/train [--fields features encoder audio] [--shard-size 1000]

--fields (default: what the manifest's cuts carry, audio aside): ``features`` (the stored
log-mel and its whisper_tail frames), ``encoder`` (the encoder-output cache of
cache_encoder), ``audio`` (the samples, FLAC).  Transcripts, translations, labels and every
other value of the cuts travel in the cuts shards.  Training reads the directory where a
cuts manifest goes (``data.train: [{cuts: data/shar/train, ...}]``).  The directory is
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse

from soundwave.data.shar_export import FEATURE_FORMATS, KINDS, export_shar
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.export_shar",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cuts", required=True, help="input CutSet manifest")
    parser.add_argument("--out", required=True, help="the Shar directory to write")
    parser.add_argument("--fields", nargs="+", choices=KINDS, help="the data to export")
    parser.add_argument("--shard-size", type=int, default=1000, help="cuts per shard")
    parser.add_argument(
        "--feature-format",
        default="lilcom-fine",
        choices=sorted(FEATURE_FORMATS),
        help="log-mel compression (lilcom-fine: the project's tick; numpy: float32)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    done = export_shar(
        args.cuts,
        args.out,
        args.fields,
        args.shard_size,
        args.feature_format,
        not args.no_progress,
    )
    print(
        f"export_shar: {done['cuts']} cuts in {done['shards']} shards "
        f"({', '.join(done['fields'])}) -> {args.out}"
    )


if __name__ == "__main__":
    main()

"""Extract Whisper log-mel features for a lhotse CutSet and store them in one archive.

Usage (one job of N, as the recipe's job runner calls it):
    python -m soundwave.bin.compute_fbank --cuts data/manifests/cuts_train.jsonl.gz \
        --shard 3/8 --storage data/fbank/train/feats.3 --out-cuts data/fbank/train/cuts.3.jsonl.gz

The job keeps every N-th cut starting at its index, so the N outputs partition the input;
``python -m soundwave.bin.combine_cuts`` joins them.  The archive is written under a
temporary name and renamed when complete (a rerun never leaves a half-written archive).
``--storage-type``: ``lilcom-fine`` (default: lilcom at a fine tick, near-lossless),
``hdf5`` (float32, lossless, needs h5py, largest) or ``lilcom`` (lhotse's default tick:
smallest, rounds the log-mel to 1/32).
"""

from __future__ import annotations

import argparse

from soundwave.data.lhotse_io import load_cuts, save_cuts
from soundwave.data.shards import parse_shard, shard_cuts
from soundwave.errors import cli_main
from soundwave.features.fbank import DEFAULT_STORAGE, STORAGE_TYPES, compute_and_store


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.compute_fbank",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cuts", required=True, help="input CutSet manifest")
    parser.add_argument("--out-cuts", required=True, help="output CutSet manifest with features")
    parser.add_argument(
        "--storage", required=True, help="feature archive path (the writer adds .lca or .h5)"
    )
    parser.add_argument(
        "--storage-type",
        default=DEFAULT_STORAGE,
        choices=sorted(STORAGE_TYPES),
        help=f"feature store (default {DEFAULT_STORAGE})",
    )
    parser.add_argument(
        "--n-mels", type=int, default=80, help="80 (Whisper <= large-v2) or 128 (large-v3)"
    )
    parser.add_argument(
        "--shard", default="1/1", help="J/N: process the J-th of N interleaved shards"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    job, num = parse_shard(args.shard)
    cuts = shard_cuts(load_cuts(args.cuts, lazy=True), job, num)
    with_feats = compute_and_store(
        cuts,
        args.storage,
        args.n_mels,
        progress=not args.no_progress,
        storage_type=args.storage_type,
    )
    save_cuts(with_feats, args.out_cuts)
    print(
        f"compute_fbank: {len(with_feats)} cuts, {sum(c.duration for c in with_feats) / 3600:.3f} h -> {args.out_cuts}"
    )


if __name__ == "__main__":
    main()

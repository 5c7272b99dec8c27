"""Run the frozen Whisper encoder once per utterance and store its output with the cuts.

Usage (one job of N, as the recipe's job runner calls it):
    python -m soundwave.bin.cache_encoder --config conf/align.yaml \
        --cuts data/fbank/cuts_train.jsonl.gz --shard 3/8 \
        --storage data/enc/train/enc.3 --out-cuts data/enc/train/cuts.3.jsonl.gz
    python -m soundwave.bin.combine_cuts data/enc/cuts_train.jsonl.gz data/enc/train/cuts.*.jsonl.gz

The encoder is the model's: a stage dir's (--model-dir), a training config's ``model:``
section (--config) or a bare Whisper dir (--encoder) with ``model.key=value`` overrides
(``model.encoder_input=pad30``).  Each output cut carries its (T50, d) frames and the id
of the encoder and input mode that made them; training and decoding read them with
``data.encoder_cache=true``, and refuse a cache made by another encoder.  The archive is
written under a temporary name and renamed when complete (a killed or rerun job never
leaves a half-written one).  ``--dtype float32`` stores losslessly (exact comparisons).
"""

from __future__ import annotations

import argparse

from soundwave.data.encoder_cache import CACHE_DTYPES, STORAGE_TYPES
from soundwave.data.lhotse_io import load_cuts, save_cuts
from soundwave.data.shards import parse_shard, shard_cuts
from soundwave.errors import cli_main
from soundwave.models.encoder_cache import CacheOptions, cache_encoder_outputs, encoder_config


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.cache_encoder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-dir", help="a stage dir: its model config's encoder")
    source.add_argument("--config", help="a training YAML: its model section's encoder")
    source.add_argument("--encoder", help="a Whisper dir (HF layout), with the default input mode")
    parser.add_argument("--cuts", required=True, help="input CutSet manifest (with features)")
    parser.add_argument("--out-cuts", required=True, help="output CutSet manifest with the cache")
    parser.add_argument("--storage", required=True, help="cache archive path (hdf5 adds .h5)")
    parser.add_argument("--storage-type", default="numpy", choices=sorted(STORAGE_TYPES))
    parser.add_argument("--dtype", default="float16", choices=CACHE_DTYPES)
    parser.add_argument("--max-duration", type=float, default=200.0, help="seconds per batch")
    parser.add_argument("--shard", default="1/1", help="J/N: the J-th of N interleaved shards")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("overrides", nargs="*", help="model.key=value model config overrides")
    args = parser.parse_args(argv)
    job, num = parse_shard(args.shard)
    cfg = encoder_config(args.model_dir, args.encoder, args.config, args.overrides)
    cuts = shard_cuts(load_cuts(args.cuts, lazy=True), job, num)
    opts = CacheOptions(args.dtype, args.storage_type, args.max_duration, not args.no_progress)
    cached = cache_encoder_outputs(cuts, cfg, args.storage, opts)
    save_cuts(cached, args.out_cuts)
    print(
        f"cache_encoder: {len(cached)} cuts ({cfg.encoder_input}, {args.dtype}) -> {args.out_cuts}"
    )


if __name__ == "__main__":
    main()

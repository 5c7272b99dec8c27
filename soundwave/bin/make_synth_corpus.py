"""Synthesise the offline multi-task speech corpus of the default recipe.

English smart-home / assistant utterances from a synchronous English->German grammar,
spoken by synthetic espeak-ng and flite speakers (dev and test speakers unseen in
training), written as Kaldi data dirs <data-dir>/{train,dev,test} with wav.scp, text,
text.de, utt2spk, spk2utt, spk2gender, utt2gender, utt2question, utt2answer, utt2intent,
utt2dur (and utt2seen in dev/test: seen / new / heldout).  Audio (16 kHz mono int16)
goes to <work-dir>/wav, the stand-in LLM's text corpora to <work-dir>/text
({train,dev}.jsonl, lm.txt), and a report to <work-dir>/report.json.  Same seed -> same
corpus.

Example:
  python -m soundwave.bin.make_synth_corpus --data-dir data --work-dir data/local/synth \\
      --seed 0 --num-train 1800 --num-dev 200 --num-test 200 --nj 2
"""

from __future__ import annotations

import argparse
import sys

from soundwave.errors import UserError, cli_main
from soundwave.offline.synth.corpus import CorpusConfig, build, summary
from soundwave.offline.synth.speakers import ENGINES
from soundwave.offline.synth.synthesize import check_tools, tool_versions

# --smoke: a corpus that builds in a few seconds (explicit sizes still win)
SMOKE = {
    "num_train": 40,
    "num_dev": 10,
    "num_test": 10,
    "spk_train": 8,
    "spk_dev": 2,
    "spk_test": 2,
    "num_text_train": 400,
    "num_text_dev": 50,
}

# the options that are shares / probabilities in [0, 1] (CorpusConfig fields) and their help
SHARES = {
    "test_heldout_frac": "share of test with held-out slot combinations",
    "test_seen_frac": "share of test repeating training texts",
    "generated_timbres": "share of espeak-ng training speakers with a generated timbre",
    "accent_rules": "probability of each accent rule in a generated timbre",
    "flite_conversion": "share of flite training speakers converted into the other gender",
}


def _engines(value: str) -> tuple[str, ...]:
    names = tuple(v for v in value.split(",") if v)
    bad = [n for n in names if n not in ENGINES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(ENGINES)}")
    return names


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = CorpusConfig()
    parser.add_argument("--data-dir", default="data", help="where train/dev/test go (%(default)s)")
    parser.add_argument(
        "--work-dir",
        "--out",
        default="data/local/synth",
        help="wavs, text corpora and report (%(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    for split in ("train", "dev", "test"):
        parser.add_argument(
            f"--num-{split}",
            type=int,
            help=f"{split} utterances ({getattr(default, 'num_' + split)})",
        )
        parser.add_argument(
            f"--spk-{split}",
            type=int,
            help=f"{split} speakers ({getattr(default, 'spk_' + split)})",
        )
    for name, what in SHARES.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=getattr(default, name),
            help=f"{what} (%(default)s)",
        )
    parser.add_argument(
        "--num-text-train", type=int, help=f"LLM text corpus sentences ({default.num_text_train})"
    )
    parser.add_argument("--num-text-dev", type=int, help=f"({default.num_text_dev})")
    parser.add_argument(
        "--engines",
        type=_engines,
        default=default.engines,
        help="comma-separated TTS engines (%(default)s)",
    )
    parser.add_argument(
        "--train-warp",
        type=float,
        default=default.train_warp,
        help="per-speaker frequency warp of training speakers, 1 +- this (%(default)s)",
    )
    parser.add_argument("--nj", type=int, default=2, help="synthesis processes (%(default)s)")
    parser.add_argument("--smoke", action="store_true", help="a tiny corpus for smoke tests")
    parser.add_argument(
        "--voices-check",
        action="store_true",
        help="only check that the TTS engines and voices are installed",
    )
    args = parser.parse_args(argv)

    if args.voices_check:
        check_tools(args.engines)
        for engine, version in tool_versions(args.engines).items():
            print(f"{engine}: {version}")
        return
    sizes = {}
    for name in SMOKE:
        value = getattr(args, name)
        if value is None:
            value = SMOKE[name] if args.smoke else getattr(default, name)
        if value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        sizes[name] = value
    for name in SHARES:
        if not 0 <= getattr(args, name) <= 1:
            raise UserError(f"--{name.replace('_', '-')} must be in [0, 1]")
    if args.test_heldout_frac + args.test_seen_frac > 1:
        raise UserError("--test-heldout-frac + --test-seen-frac must not exceed 1")
    if not 0 <= args.train_warp < 0.5:
        raise UserError("--train-warp must be in [0, 0.5)")
    if args.nj < 1:
        raise UserError("--nj must be at least 1")
    cfg = CorpusConfig(
        seed=args.seed,
        engines=args.engines,
        **{name: getattr(args, name) for name in SHARES},
        train_warp=args.train_warp,
        **sizes,
    )
    report = build(
        cfg, args.data_dir, args.work_dir, nj=args.nj, log=lambda m: print(m, file=sys.stderr)
    )
    print(summary(report))


if __name__ == "__main__":
    main()

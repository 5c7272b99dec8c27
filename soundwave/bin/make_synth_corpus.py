"""Synthesise the offline multi-task speech corpus of the default recipe.

English smart-home / assistant utterances from a synchronous English->German grammar,
spoken by synthetic espeak-ng and flite speakers (dev and test speakers unseen in
training), written as Kaldi data dirs <data-dir>/{train,dev,test} with wav.scp, text,
text.de, utt2spk, spk2utt, spk2gender, utt2gender, utt2question, utt2answer, utt2intent,
utt2dur (and utt2seen in dev/test: seen / new / heldout).  Audio (16 kHz mono int16)
goes to <work-dir>/wav, the stand-in LLM's text corpora to <work-dir>/text
({train,dev}.jsonl, lm.txt), and a report to <work-dir>/report.json.  Same seed -> same
corpus.

The corpus is a ``CorpusConfig`` (soundwave.offline.synth.corpus): a YAML file
(``--config``, e.g. a recipe's conf/corpus.yaml; it may start from another with
``base:``) with ``key=value`` overrides after it, as every stage config.  The size and
share options (``--num-train 400``) are shorthands for the overrides of the same name
(``num_train=400``); the overrides come last and win.

Example:
  python -m soundwave.bin.make_synth_corpus --data-dir data --work-dir data/local/synth \\
      --config conf/corpus.yaml num_test=200 --nj 2
"""

from __future__ import annotations

import argparse
import json
import sys

from soundwave.config import load_config
from soundwave.errors import UserError, cli_main
from soundwave.offline.synth.corpus import CorpusConfig, build, summary
from soundwave.offline.synth.speakers import ENGINES
from soundwave.offline.synth.synthesize import check_tools, tool_versions

# the CorpusConfig fields that count something (at least 1)
SIZES = (
    "num_train",
    "num_dev",
    "num_test",
    "spk_train",
    "spk_dev",
    "spk_test",
    "num_text_train",
    "num_text_dev",
)

# the options that are shares / probabilities in [0, 1] (CorpusConfig fields) and their help
SHARES = {
    "test_heldout_frac": "share of test with held-out slot combinations",
    "test_seen_frac": "share of test repeating training texts",
    "generated_timbres": "share of espeak-ng training speakers with a generated timbre",
    "accent_rules": "probability of each accent rule in a generated timbre",
    "flite_conversion": "share of flite training speakers converted into the other gender",
}


def _engines(value: str) -> list[str]:
    names = [v for v in value.split(",") if v]
    bad = [n for n in names if n not in ENGINES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(ENGINES)}")
    return names


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check(cfg: CorpusConfig) -> None:
    """One line naming the option for what ``build`` cannot make a corpus of."""
    for name in SIZES:
        if getattr(cfg, name) < 1:
            raise UserError(f"{_flag(name)} must be at least 1")
    for name in SHARES:
        if not 0 <= getattr(cfg, name) <= 1:
            raise UserError(f"{_flag(name)} must be in [0, 1]")
    if cfg.test_heldout_frac + cfg.test_seen_frac > 1:
        raise UserError("--test-heldout-frac + --test-seen-frac must not exceed 1")
    if not 0 <= cfg.train_warp < 0.5:
        raise UserError("--train-warp must be in [0, 0.5)")
    bad = [e for e in cfg.engines if e not in ENGINES] or ([] if cfg.engines else ["(none)"])
    if bad:
        raise UserError(f"--engines: {bad[0]}: choose from {','.join(ENGINES)}")


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
    parser.add_argument("--config", help="YAML CorpusConfig (default: CorpusConfig's defaults)")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="CorpusConfig overrides (they win)"
    )
    parser.add_argument("--seed", type=int, help=f"({default.seed})")
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
        parser.add_argument(_flag(name), type=float, help=f"{what} ({getattr(default, name)})")
    parser.add_argument(
        "--num-text-train", type=int, help=f"LLM text corpus sentences ({default.num_text_train})"
    )
    parser.add_argument("--num-text-dev", type=int, help=f"({default.num_text_dev})")
    parser.add_argument(
        "--engines",
        type=_engines,
        help=f"comma-separated TTS engines ({','.join(default.engines)})",
    )
    parser.add_argument(
        "--train-warp",
        type=float,
        help=f"per-speaker frequency warp of training speakers, 1 +- this ({default.train_warp})",
    )
    parser.add_argument("--nj", type=int, default=2, help="synthesis processes (%(default)s)")
    parser.add_argument(
        "--voices-check",
        action="store_true",
        help="only check that the TTS engines and voices are installed",
    )
    args = parser.parse_intermixed_args(argv)

    shorthands = ("seed", *SIZES, *SHARES, "engines", "train_warp")
    given = [
        f"{name}={json.dumps(getattr(args, name))}"
        for name in shorthands
        if getattr(args, name) is not None
    ]
    cfg = load_config(CorpusConfig, args.config, [*given, *args.overrides])
    if args.voices_check:
        check_tools(cfg.engines)
        for engine, version in tool_versions(cfg.engines).items():
            print(f"{engine}: {version}")
        return
    check(cfg)
    if args.nj < 1:
        raise UserError("--nj must be at least 1")
    report = build(
        cfg, args.data_dir, args.work_dir, nj=args.nj, log=lambda m: print(m, file=sys.stderr)
    )
    print(summary(report))


if __name__ == "__main__":
    main()

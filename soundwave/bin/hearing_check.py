"""Is the LLM hearing the audio?  Compare a trained model's loss and greedy answers with the
real audio against the same prompts with silence and with another utterance's audio.

Usage:
    python -m soundwave.bin.hearing_check --model-dir exp/mini/shrink \
        --cuts data/enc/cuts_dev.jsonl.gz --task asr [--utts 16] [--out FILE.json] \
        [--config conf/decode.yaml] [key=value ...]

Prints one line (losses, gap, unchanged share, verdict) and writes a JSON report (default
``<model-dir>/hearing_<task>.json``): the LM loss per target token with real / silent /
swapped audio, the gaps, the share of unchanged greedy answers, the verdict and the
thresholds it used, and a few answers.  The model is deaf when the loss gap is below
``--min-loss-gap`` or the unchanged share above ``--max-unchanged`` (see
``soundwave/decode/hearing.py``).  ``--config`` and ``key=value`` are a decoding config's
(e.g. ``data.encoder_cache=true`` for cuts with stored encoder outputs).
"""

from __future__ import annotations

import argparse

from soundwave.decode.hearing import HearingLimits, check_dir
from soundwave.errors import cli_main

DEFAULTS = HearingLimits()


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.hearing_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", required=True, help="a Stage II or III output directory")
    parser.add_argument("--cuts", required=True, help="CutSet manifest (e.g. the dev set)")
    parser.add_argument("--task", default="asr", help="the task whose prompts and targets to use")
    parser.add_argument("--utts", type=int, default=16, help="utterances, spread over the cuts")
    parser.add_argument("--out", help="JSON report (default <model-dir>/hearing_<task>.json)")
    parser.add_argument("--config", help="decoding YAML config (its data and generation)")
    parser.add_argument(
        "--min-loss-gap", type=float, default=DEFAULTS.min_loss_gap, help="nats per token"
    )
    parser.add_argument("--max-unchanged", type=float, default=DEFAULTS.max_unchanged)
    parser.add_argument("overrides", nargs="*", help="key=value decoding config overrides")
    args = parser.parse_args(argv)
    check_dir(
        args.model_dir,
        args.cuts,
        args.task,
        args.utts,
        args.out,
        args.config,
        args.overrides,
        HearingLimits(args.min_loss_gap, args.max_unchanged),
    )


if __name__ == "__main__":
    main()

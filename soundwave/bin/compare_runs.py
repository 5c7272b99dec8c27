"""Compare trained variants of one stage side by side (the bridge ablation's table).

Usage:
    python -m soundwave.bin.compare_runs --set test --reference linear5 --out ABLATION.md \
        [--tokenizer exp/standin/llm] runs=exp/ablation/runs/shrink peaks=exp/ablation/peaks/shrink ...

Each run is a stage directory with ``history.json`` and scored ``decode_<set>_<task>/``
subdirectories; see :mod:`soundwave.viz.compare` for the columns.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main
from soundwave.fileio import atomic_write
from soundwave.viz.compare import compare_runs


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.compare_runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", help="name=stage-dir")
    parser.add_argument("--set", default="test", help="evaluation set of the metrics")
    parser.add_argument("--reference", help="run whose final validation WER the others must reach")
    parser.add_argument("--out", help="markdown file to write (default: stdout)")
    parser.add_argument("--tokenizer", help="the LLM's directory: positions per transcript token")
    args = parser.parse_args(argv)
    text = compare_runs(args.runs, args.set, args.reference, args.tokenizer)
    if args.out:
        with atomic_write(args.out) as f:
            f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()

"""Copy a data directory, optionally renaming ids (Kaldi's copy_data_dir.sh).

Usage: copy_data_dir.sh [--utt-prefix P] [--utt-suffix S] [--spk-prefix P] [--spk-suffix S]
                        <src> <dest>

Utterance ids become <utt-prefix><utt><utt-suffix>, speaker ids
<spk-prefix><spk><spk-suffix>; recording ids change with the utterance ids when there is
no segments file.  Every data file is copied and renamed along.  The result must still
have speaker-prefixed utterance ids (use the same prefix for both, e.g. sp1.1-).
"""

from __future__ import annotations

import argparse
import os
import sys

from soundwave.data.kaldi import DataDir
from soundwave.data.ops import copy_datadir
from soundwave.data.validate import check_data_dir
from soundwave.errors import UserError, cli_main

OPTIONS = ("--utt-prefix", "--utt-suffix", "--spk-prefix", "--spk-suffix")


def _glue(argv: list[str]) -> list[str]:
    """'--utt-suffix -sp1.1' -> '--utt-suffix=-sp1.1': values may start with '-'."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        out.append(f"{arg}={next(it, '')}" if arg in OPTIONS else arg)
    return out


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for opt in OPTIONS:
        parser.add_argument(opt, default="", metavar="STR")
    parser.add_argument("src", help="the source data directory")
    parser.add_argument("dest", help="the new data directory")
    args = parser.parse_args(_glue(list(sys.argv[1:] if argv is None else argv)))
    if os.path.realpath(args.src) == os.path.realpath(args.dest):
        raise UserError("source and destination are the same directory", args.dest)
    d = DataDir.load(args.src)
    check_data_dir(d, args.src, check_paths=False)
    out = copy_datadir(
        d,
        utt_prefix=args.utt_prefix,
        utt_suffix=args.utt_suffix,
        spk_prefix=args.spk_prefix,
        spk_suffix=args.spk_suffix,
    )
    check_data_dir(out, args.dest, check_paths=False)
    out.save(args.dest)


if __name__ == "__main__":
    main()

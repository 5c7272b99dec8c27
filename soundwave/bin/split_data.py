"""Split a data directory into N parts, as Kaldi's split_data.sh does.

Usage: split_data.sh [--per-utt] <data> <num-to-split>

Writes <data>/split<N>/{1..N} (by speaker: every speaker's utterances stay in one part)
or, with --per-utt, <data>/split<N>utt/{1..N} (by utterance).  Parts are contiguous in
sorted order and balanced by their number of utterances; every data file (text.*,
utt2*, spk2*, reco2* included) is split along.  The split directory appears whole.
"""

from __future__ import annotations

import argparse

from soundwave.data.ops import split_data
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-utt", action="store_true", help="split by utterance")
    parser.add_argument("data", help="the data directory")
    parser.add_argument("num", type=int, help="number of parts")
    args = parser.parse_args(argv)
    split_data(args.data, args.num, per_utt=args.per_utt)


if __name__ == "__main__":
    main()

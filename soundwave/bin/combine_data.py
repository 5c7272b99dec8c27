"""Combine data directories into one, as Kaldi's combine_data.sh does.

Usage: combine_data.sh <dest> <src1> <src2> ...

An utterance id in two sources is an error; speakers and recordings may be shared when
their entries agree.  Extra files (text.*, utt2*, spk2*, reco2*) are merged; a file every
id must have (text, feats.scp, utt2dur, ...) that some source lacks is left out with a
message.  Sources with and without segments mix: whole-recording segments are made.
"""

from __future__ import annotations

import argparse

from soundwave.data.kaldi import DataDir
from soundwave.data.ops import combine_datadirs
from soundwave.data.validate import check_data_dir
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dest", help="the combined data directory")
    parser.add_argument("srcs", nargs="+", help="the data directories to combine")
    args = parser.parse_intermixed_args(argv)
    dirs = []
    for src in args.srcs:
        d = DataDir.load(src)
        check_data_dir(d, src, check_paths=False)
        dirs.append((src, d))
    out = combine_datadirs(dirs)
    check_data_dir(out, args.dest, check_paths=False)
    out.save(args.dest)


if __name__ == "__main__":
    main()

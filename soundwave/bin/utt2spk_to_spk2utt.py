"""Convert utt2spk to spk2utt, as Kaldi's utt2spk_to_spk2utt.pl does.

Reads the files given (or standard input) and writes "<spk> <utt1> <utt2> ..." lines to
standard output, speakers and utterances in order of first appearance.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.data.ops import input_fields
from soundwave.data.tables import utt2spk_to_spk2utt
from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", help="utt2spk files (default: standard input)")
    args = parser.parse_intermixed_args(argv)

    def pairs():
        for path, lineno, fields in input_fields(args.files):
            if len(fields) != 2:
                raise UserError("expected '<utt> <spk>'", path, lineno)
            yield fields[0], fields[1]

    out = sys.stdout
    for spk, utts in utt2spk_to_spk2utt(pairs()).items():
        out.write(f"{spk} {' '.join(utts)}\n")


if __name__ == "__main__":
    main()

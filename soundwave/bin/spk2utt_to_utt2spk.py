"""Convert spk2utt to utt2spk, as Kaldi's spk2utt_to_utt2spk.pl does.

Reads the files given (or standard input) and writes "<utt> <spk>" lines to standard
output in input order.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.data.ops import input_fields
from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", help="spk2utt files (default: standard input)")
    args = parser.parse_intermixed_args(argv)
    out = sys.stdout
    for path, lineno, fields in input_fields(args.files):
        if len(fields) < 2:
            raise UserError(f"speaker '{fields[0]}' has no utterances", path, lineno)
        for utt in fields[1:]:
            out.write(f"{utt} {fields[0]}\n")


if __name__ == "__main__":
    main()

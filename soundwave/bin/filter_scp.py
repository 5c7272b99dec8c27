"""Keep the lines of scp/key-value files whose id is in a list (Kaldi's filter_scp.pl).

Usage: filter_scp.sh [--exclude] [-f <field>] <id-list> [<in.scp> ...] > <out.scp>

The id list is the first field of each line of <id-list>.  A line of the input (the
files given, or standard input) is printed when its <field>-th field (default 1) is in
the list (--exclude: is not), in input order.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.data.ops import filter_scp, read_id_list
from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exclude", action="store_true", help="keep the lines NOT in the list")
    parser.add_argument("-f", "--field", type=int, default=1, help="field to match (1-based)")
    parser.add_argument("id_list", help="file with one id per line (first field)")
    parser.add_argument("inputs", nargs="*", help="input files (default: standard input)")
    args = parser.parse_intermixed_args(argv)
    if args.field < 1:
        parser.error("-f must be >= 1")
    ids = [i.encode() for i in read_id_list(args.id_list)]
    out = sys.stdout.buffer
    for path in args.inputs or ["-"]:
        try:
            f = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise UserError(f"cannot read: {e.strerror}", path) from None
        with f:
            out.writelines(filter_scp(ids, f, field=args.field, exclude=args.exclude))
    out.flush()


if __name__ == "__main__":
    main()

"""Make a data directory of a subset of another's utterances (Kaldi's subset_data_dir.sh).

Usage: subset_data_dir.sh [--first|--last|--speakers|--shortest|--per-spk] <src> <num> <dest>
       subset_data_dir.sh --utt-list <file> <src> <dest>
       subset_data_dir.sh --spk-list <file> <src> <dest>

With <num> and no option: <num> utterances drawn at random (reproducible with --seed).
--first/--last: the first/last <num> utterances in sorted order; --speakers: whole
random speakers until <num> utterances; --shortest: the <num> shortest (utt2dur);
--per-spk: the first <num> utterances of every speaker.  "--first <num> <src> <dest>"
is accepted too.  Lists give one id per line (first field).  Every data file (text.*,
utt2*, spk2*, reco2* included) follows the kept utterances.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.data import ops
from soundwave.data.kaldi import DataDir
from soundwave.data.validate import check_data_dir
from soundwave.errors import UserError, cli_main

MODES = ("--first", "--last", "--speakers", "--shortest", "--per-spk")


def _num_after_mode(argv: list[str]) -> int | None:
    """Take the count out of the '--first <num> <src> <dest>' form."""
    for i, arg in enumerate(argv[:-1]):
        if arg in MODES and argv[i + 1].isdigit():
            return int(argv.pop(i + 1))
    return None


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    for flag in MODES:
        mode.add_argument(flag, action="store_true")
    mode.add_argument("--utt-list", metavar="FILE", help="keep these utterances")
    mode.add_argument("--spk-list", metavar="FILE", help="keep these speakers' utterances")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("args", nargs="+", metavar="<src> [<num>] <dest>")
    argv = list(sys.argv[1:] if argv is None else argv)
    num = _num_after_mode(argv)
    args = parser.parse_intermixed_args(argv)

    pos = args.args
    by_list = args.utt_list is not None or args.spk_list is not None
    if by_list or num is not None:
        if len(pos) != 2:
            parser.error("expected <src> <dest>")
        src, dest = pos
    else:
        if len(pos) != 3 or not pos[1].isdigit():
            parser.error("expected <src> <num> <dest>")
        src, num, dest = pos[0], int(pos[1]), pos[2]

    d = DataDir.load(src)
    check_data_dir(d, src, check_paths=False)
    if args.utt_list is not None:
        utts = ops.read_id_list(args.utt_list)
    elif args.spk_list is not None:
        utts = ops.spk_list_utts(d, ops.read_id_list(args.spk_list))
    elif args.first:
        utts = ops.first_utts(d, num)
    elif args.last:
        utts = ops.last_utts(d, num)
    elif args.speakers:
        utts = ops.speaker_utts(d, num, args.seed)
    elif args.shortest:
        utts = ops.shortest_utts(d, num)
    elif args.per_spk:
        utts = ops.per_speaker_utts(d, num)
    else:
        utts = ops.random_utts(d, num, args.seed)
    sub = d.select(utts)
    if not sub.utt2spk:
        raise UserError("the subset is empty", src)
    sub.save(dest)


if __name__ == "__main__":
    main()

"""Stage 0 of egs/librispeech/asr1: LibriSpeech subsets into Kaldi data directories.

Usage: python -m soundwave.bin.prepare_librispeech --corpus-dir LibriSpeech --data-dir data
           [--nj N] SUBSET...

CORPUS is the unpacked ``LibriSpeech/`` directory (SPEAKERS.TXT and the subset dirs).
Each SUBSET (``train-clean-100`` ... ``test-other``) becomes ``<data>/<subset with _>``
(``dev-clean`` -> ``data/dev_clean``) through lhotse's ``prepare_librispeech``, with
``spk2gender`` from SPEAKERS.TXT.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.data.librispeech.prepare_librispeech_datadirs`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.prepare_librispeech",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus-dir", required=True, metavar="DIR", help="LibriSpeech/")
    parser.add_argument("--data-dir", required=True, metavar="DIR", help="where data dirs go")
    parser.add_argument("--nj", type=int, default=1, help="threads reading the FLAC headers")
    parser.add_argument("subsets", nargs="+", metavar="SUBSET")
    args = parser.parse_args(argv)

    from soundwave.data.librispeech import prepare_librispeech_datadirs

    dirs = prepare_librispeech_datadirs(args.corpus_dir, args.subsets, args.data_dir, args.nj)
    for subset, out in dirs.items():
        print(f"prepare_librispeech: {subset} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

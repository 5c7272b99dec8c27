"""Repair a Kaldi data directory in place, as Kaldi's fix_data_dir.sh does.

Sorts every file; drops duplicate, empty, valueless and non-UTF-8 lines; keeps only the
utterances present in utt2spk, text, wav.scp (or segments), feats.scp, utt2dur and
utt2num_frames where these exist; drops segments of unknown recordings or past the end
of their recording (reco2dur); drops recordings and speakers left without utterances;
regenerates spk2utt.  Extra files (text.*, utt2*, spk2*, reco2*) follow.  Reports what
it dropped on stderr and keeps the original files in <data>/.backup.  What it cannot
repair (utterance ids not prefixed by their speaker id, two values for one id) is an
error and the directory is left unchanged.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.data.fix import fix_data_dir
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--no-check-paths",
        action="store_true",
        help="do not require the audio files and arks to exist",
    )
    parser.add_argument("data", help="the data directory")
    args = parser.parse_args(argv)
    report = fix_data_dir(args.data, check_paths=not args.no_check_paths)
    for line in report.lines():
        print(f"fix_data_dir: {line}", file=sys.stderr)


if __name__ == "__main__":
    main()

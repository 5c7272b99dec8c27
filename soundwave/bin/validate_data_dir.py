"""Check a Kaldi data directory as Kaldi's validate_data_dir.sh does.

Silent with exit status 0 when the directory is good; otherwise one line naming the file
and line of the first problem, and exit status 1.  Checked: required files (utt2spk,
spk2utt, text, wav.scp or feats.scp), UTF-8, empty lines and values, C-locale sorting,
duplicate ids, utterance ids prefixed by speaker ids, spk2utt against utt2spk, the ids of
text / wav.scp / segments / feats.scp / utt2dur / … against utt2spk, segments (times,
recordings, reco2dur, and the length of each audio file from its header), and that audio
files and arks exist.
"""

from __future__ import annotations

import argparse

from soundwave.data.validate import validate_data_dir
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-text", action="store_true", help="text is not required")
    parser.add_argument(
        "--no-wav", action="store_true", help="ignore wav.scp, segments and reco2* files"
    )
    parser.add_argument("--no-feats", action="store_true", help="ignore feats.scp")
    parser.add_argument(
        "--no-check-paths",
        action="store_true",
        help="do not check that the audio files and arks exist",
    )
    parser.add_argument("data", help="the data directory")
    args = parser.parse_args(argv)
    validate_data_dir(
        args.data,
        text=not args.no_text,
        wav=not args.no_wav,
        feats=not args.no_feats,
        check_paths=not args.no_check_paths,
    )


if __name__ == "__main__":
    main()

"""Write a Kaldi data directory from lhotse manifests.

Usage: lhotse_to_datadir [--prefix-spk-id] <cuts-manifest | manifest-dir | prefix> <data>

The input is a cuts manifest, a datadir_to_lhotse prefix, or a directory with one cuts
manifest or one recordings and one supervisions manifest.  Each supervision becomes an
utterance (id = supervision id); supervision.custom entries become extra files
(task -> utt2task, text.de -> text.de, spk2age -> spk2age).  Writes segments when the
supervisions do not cover whole recordings, and always utt2dur.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--prefix-spk-id",
        action="store_true",
        help="make utterance ids '<spk>-<utt>' where they do not start with the speaker id",
    )
    parser.add_argument(
        "--language", default="en", help="default language: others go to utt2lang (en)"
    )
    parser.add_argument("manifests", help="cuts manifest, manifest directory or prefix")
    parser.add_argument("data", help="the data directory to write")
    args = parser.parse_args(argv)

    from soundwave.data.lhotse_io import cuts_to_datadir, load_cuts

    d = cuts_to_datadir(
        load_cuts(args.manifests),
        args.data,
        language=args.language,
        prefix_spk_id=args.prefix_spk_id,
    )
    print(
        f"lhotse_to_datadir: {len(d.utt_ids)} utterances, {len(d.spk_ids)} speakers -> {args.data}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

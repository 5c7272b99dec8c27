"""Write lhotse manifests (recordings, supervisions, cuts) for a Kaldi data directory.

Usage: datadir_to_lhotse <data> <out-prefix>

Writes <out-prefix>_recordings.jsonl.gz, <out-prefix>_supervisions.jsonl.gz and
<out-prefix>_cuts.jsonl.gz (one cut per utterance, id = utterance id), or
<dir>/{recordings,supervisions,cuts}.jsonl.gz when <out-prefix> is a directory or ends
in "/".  Extra files (text.*, utt2*, spk2*, reco2*) go to supervision.custom.  See
soundwave/data/lhotse_io.py.
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
    parser.add_argument("--language", default="en", help="language without utt2lang (en)")
    parser.add_argument(
        "--sampling-rate",
        type=int,
        default=None,
        help="rate of pipe/ark audio, to take durations from reco2dur/utt2dur "
        "instead of running the commands",
    )
    parser.add_argument("data", help="the data directory")
    parser.add_argument("out_prefix", help="output prefix or directory")
    args = parser.parse_args(argv)

    from soundwave.data.lhotse_io import (
        datadir_to_manifests,
        manifest_paths,
        manifests_to_cuts,
        write_manifest,
    )

    recs, sups = datadir_to_manifests(
        args.data, language=args.language, sampling_rate=args.sampling_rate
    )
    cuts = manifests_to_cuts(recs, sups)
    paths = manifest_paths(args.out_prefix)
    write_manifest(recs, paths["recordings"])
    write_manifest(sups, paths["supervisions"])
    write_manifest(cuts, paths["cuts"])
    print(
        f"datadir_to_lhotse: {len(recs)} recordings, {len(sups)} supervisions and cuts "
        f"-> {paths['cuts']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

"""CoVoST 2 -> Kaldi data dirs: one per split, every language pair's translation in it.

Usage:
    python -m soundwave.bin.prepare_covost2 --covost-dir /data/covost2 \\
        --cv-root /data/cv-corpus-4-2019-12-10 --pairs en_de en_zh-CN --out data \\
        [--splits train dev test] [--skip-missing-clips]

``--covost-dir`` holds ``covost_v2.<src>_<tgt>.<split>.tsv`` as CoVoST 2's
``get_covost_splits.py`` writes them (columns ``path sentence translation client_id``);
``--cv-root`` is the Common Voice release whose ``<src>/clips/`` has the MP3 clips.
``<out>/<split>/`` gets ``wav.scp`` (the clips' absolute paths), ``text`` (the
transcript), ``text.<tgt>`` per pair (``text.zh`` for ``en_zh-CN``) and ``utt2spk``/``spk2utt`` (the ``client_id``),
with utterance ids ``<client_id>-<clip stem>``, C-sorted.  A bad TSV row, or a clip
missing from ``clips/`` (unless ``--skip-missing-clips``: then counted and left out), is
one line naming the TSV and its line; nothing is written then.
"""

from __future__ import annotations

import argparse

from soundwave.data.covost import SPLITS, prepare_covost2
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.data.covost.prepare_covost2`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.prepare_covost2",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--covost-dir", required=True, help="the CoVoST 2 split TSVs")
    parser.add_argument("--cv-root", required=True, help="the Common Voice release")
    parser.add_argument(
        "--pairs", nargs="+", default=["en_de"], help="CoVoST's names, e.g. en_de en_zh-CN"
    )
    parser.add_argument("--splits", nargs="+", default=list(SPLITS))
    parser.add_argument("--out", default="data", help="parent of the data dirs")
    parser.add_argument("--skip-missing-clips", action="store_true")
    args = parser.parse_args(argv)
    prepare_covost2(
        args.covost_dir,
        args.cv_root,
        args.out,
        args.pairs,
        args.splits,
        skip_missing_clips=args.skip_missing_clips,
    )


if __name__ == "__main__":
    main()

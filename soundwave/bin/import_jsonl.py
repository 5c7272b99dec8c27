"""SLAM-LLM-style jsonl (one JSON object per line: key, source, target, optional prompt)
-> a Kaldi data dir.

Usage:
    python -m soundwave.bin.import_jsonl --jsonl train.jsonl --out data/slam_train [--task asr]

``--task`` says where the target goes: ``asr`` -> text, ``st_en_de`` -> text.de, ``qa`` ->
utt2answer (the prompt: utt2question), a classification task -> its label file; otherwise
the prompt is kept in utt2prompt.  Each utterance is its own speaker.  A bad line stops the
import with one line naming the file and line; nothing is written then.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.data.jsonl_import.import_jsonl`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.import_jsonl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jsonl", required=True, metavar="FILE")
    parser.add_argument("--out", required=True, metavar="DIR", help="the data dir to write")
    parser.add_argument("--task", default="asr", help="asr (default), st_<src>_<tgt>, qa, ...")
    args = parser.parse_args(argv)

    from soundwave.data.jsonl_import import import_jsonl

    n = import_jsonl(args.jsonl, args.out, args.task)
    print(f"import_jsonl: {n} utterances -> {args.out}")


if __name__ == "__main__":
    main()

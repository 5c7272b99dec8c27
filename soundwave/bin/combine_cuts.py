"""Concatenate lhotse CutSet manifests (e.g. the shards of compute_fbank) into one.

Usage: python -m soundwave.bin.combine_cuts <out.jsonl.gz> <in1.jsonl.gz> [<in2> ...]
"""

from __future__ import annotations

import argparse

from lhotse import CutSet

from soundwave.data.lhotse_io import load_cuts, save_cuts
from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="soundwave.bin.combine_cuts", description=__doc__)
    parser.add_argument("out")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args(argv)
    seen: set[str] = set()
    cuts = []
    for path in args.inputs:
        for cut in load_cuts(path, lazy=True):
            if cut.id in seen:
                raise UserError(f"duplicate cut id '{cut.id}'", path)
            seen.add(cut.id)
            cuts.append(cut)
    combined = CutSet.from_cuts(sorted(cuts, key=lambda c: c.id))
    save_cuts(combined, args.out)
    print(f"combine_cuts: {len(combined)} cuts from {len(args.inputs)} manifests -> {args.out}")


if __name__ == "__main__":
    main()

"""Import a released Soundwave checkpoint (FreedomIntelligence/Soundwave, HF layout).

Usage:
    python -m soundwave.bin.import_official --official-dir /models/Soundwave \
        --encoder /models/whisper-large-v2 --out exp/official [--merged] [key=value ...]

The result is a stage directory like those the recipes train: decode it with
``python -m soundwave.bin.decode --model-dir exp/official ...`` or fine-tune from it with
``init_from=exp/official``.  By default it keeps the released semantics (30 s padding,
frame-wise adapter, ``runs`` selection, look-back to kept frames, the released prompt
layout) so that outputs equal the official code's; ``key=value`` overrides any
SoundwaveConfig field (e.g. ``encoder_input=variable``).  ``--merged`` writes a
self-contained copy (HF-layout LLM + audio modules) instead of a directory that refers
to --official-dir.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.import_official",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--official-dir", required=True, help="the released checkpoint directory")
    parser.add_argument("--encoder", help="local Whisper dir (the release names a hub id)")
    parser.add_argument("--out", required=True, help="stage directory to write")
    parser.add_argument("--merged", action="store_true", help="write a self-contained copy")
    parser.add_argument("overrides", nargs="*", help="SoundwaveConfig key=value overrides")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"override '{item}' is not of the form key=value")
        overrides[key] = yaml.safe_load(value)

    from soundwave.models import import_official
    from soundwave.models.params import format_param_report
    from soundwave.models.stage_dir import export_merged, save_stage

    try:
        model = import_official(args.official_dir, encoder_path=args.encoder, **overrides)
    except TypeError as err:
        raise UserError(f"bad override: {err}") from None
    if args.merged:
        export_merged(model, args.out)
    else:
        save_stage(model, args.out, extra={"imported_from": str(Path(args.official_dir).resolve())})
    print(format_param_report(model.param_report()))
    print(f"import_official: {args.official_dir} -> {args.out}")


if __name__ == "__main__":
    main()

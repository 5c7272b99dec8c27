"""Turn a Kaldi data dir into a lhotse CutSet manifest ready for feature extraction.

Usage:
    python -m soundwave.bin.make_manifests --data-dir data/train --out data/manifests/cuts_train.jsonl.gz \
        [--min-duration 0.3] [--max-duration 30] [--channel mix]

The data dir is validated first.  A 16 kHz 16-bit PCM recording is kept as it is; any
other becomes a 16 kHz mono source running openai-whisper's ffmpeg command (lazily: the
manifest records the command; ffmpeg must be on PATH), so that the features equal
openai-whisper's.  ``--channel mix`` (the default) keeps both channels of a stereo
recording and the features average them, and lets ffmpeg downmix more channels by their
layout, as openai-whisper's decoding does; ``left``, ``right`` (an error for mono audio)
or an index keeps one channel.  Utterances outside the duration range are dropped, and
what was dropped is reported (and written next to the manifest as ``<name>.filter.json``);
when none is left, nothing is written and that is an error.  Supervision text, speaker,
gender and every extra per-utterance file (``text.<lang>``, ``utt2<x>``) are carried into
the cuts.  A bad data dir, a segment past its recording's end, unreadable, truncated or
NaN audio are one line naming the file and line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from soundwave.errors import UserError, cli_main
from soundwave.features.fbank import filter_by_duration, to_mono_16k
from soundwave.fileio import atomic_write


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.make_manifests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", required=True, help="Kaldi data directory")
    parser.add_argument("--out", required=True, help="output CutSet manifest (.jsonl.gz)")
    parser.add_argument("--min-duration", type=float, default=0.1, help="seconds")
    parser.add_argument("--max-duration", type=float, default=3600.0, help="seconds")
    parser.add_argument(
        "--channel", default="mix", help="'mix' (average), 'left', 'right' or a channel index"
    )
    args = parser.parse_args(argv)

    from soundwave.data.lhotse_io import datadir_to_cuts, save_cuts

    cuts = to_mono_16k(datadir_to_cuts(args.data_dir), args.channel)
    cuts, report = filter_by_duration(cuts, args.min_duration, args.max_duration)
    if not report["kept"]:  # an empty manifest only fails later, far from the cause
        raise UserError(
            f"no utterance left: all {report['too_short'] + report['too_long']} were dropped by "
            f"the duration filter ({report['too_short']} shorter than {args.min_duration:g} s, "
            f"{report['too_long']} longer than {args.max_duration:g} s); nothing written",
            args.data_dir,
        )
    out = Path(args.out)
    save_cuts(cuts, out)
    report = {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}
    with atomic_write(out.with_name(out.name.split(".")[0] + ".filter.json")) as f:
        json.dump({"data_dir": args.data_dir, **report}, f, indent=1)
    dropped = report["too_short"] + report["too_long"]
    print(
        f"make_manifests: {report['kept']} cuts ({report['kept_hours']:.3f} h) -> {out}; dropped {dropped} "
        f"({report['too_short']} < {args.min_duration} s, {report['too_long']} > {args.max_duration} s, "
        f"{report['dropped_hours']:.3f} h)"
    )


if __name__ == "__main__":
    main()

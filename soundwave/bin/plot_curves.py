"""Plot the training curves of stage or pretraining dirs into one PNG.

    python -m soundwave.bin.plot_curves --out exp/mini/curves.png \\
        exp/standin/encoder_train exp/mini/align exp/mini/shrink exp/mini/sft
    # runs of an ablation on one axis per metric:
    python -m soundwave.bin.plot_curves --out exp/ablation_wer.png --metric valid_asr_wer \\
        exp/abl_runs/shrink exp/abl_peaks/shrink exp/abl_none/shrink exp/abl_linear5/shrink \\
        --labels runs peaks none linear5

Each dir is read from its history.json (written when training ends) or, while training
runs, from its train.log.  Without --metric: one column per dir, the training losses (log
scale) on top and the validation metrics below.  With --metric KEY (repeatable or
comma-separated: loss, ctc_loss, lm_loss, lr, grad_norm, valid_asr_wer, ...): one panel
per metric, one line per dir.
--labels name the dirs in order (space- or comma-separated); the default is the shortest
path suffix that tells the dirs apart.  Given before the dirs, --labels takes the first
half of the words that follow (N labels, then N dirs), or the words up to a "--".
"""

from __future__ import annotations

import argparse

from soundwave.errors import UserError, cli_main
from soundwave.viz.curves import default_labels, plot_metric, plot_stages
from soundwave.viz.figure import save_png
from soundwave.viz.history import read_history


def split_labels(dirs: list[str], labels: list[str] | None) -> tuple[list[str], list[str] | None]:
    """(dirs, labels) with comma-separated labels split; ``--labels a b dirA dirB`` (argparse
    gives every word to --labels) read as two labels and two dirs."""
    if labels is not None:
        labels = [x for item in labels for x in item.split(",") if x]
    if not dirs and labels:
        if len(labels) % 2:
            raise UserError(f"--labels got {len(labels)} words and no dirs: give the dirs first")
        half = len(labels) // 2
        dirs, labels = labels[half:], labels[:half]
    if not dirs:
        raise UserError("no stage dirs given")
    if labels is not None and len(labels) != len(dirs):
        raise UserError(f"{len(labels)} labels for {len(dirs)} dirs")
    return dirs, labels


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plot_curves",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "dirs", nargs="*", help="stage/pretraining dirs (history.json or train.log)"
    )
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--labels", nargs="+", help="one name per dir")
    parser.add_argument(
        "--metric",
        action="append",
        help="plot this key (repeatable, or comma-separated), one line per dir, instead of "
        "one column per dir",
    )
    parser.add_argument("--dpi", type=int, default=120)
    return parser


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    dirs, labels = split_labels(args.dirs, args.labels)
    labels = labels or default_labels(dirs)
    histories = [read_history(d, label) for d, label in zip(dirs, labels)]
    if args.metric:
        fig = plot_metric(histories, [m for item in args.metric for m in item.split(",") if m])
    else:
        fig = plot_stages(histories)
    save_png(fig, args.out, args.dpi)
    steps = ", ".join(f"{h.label} {h.last_step}" for h in histories)
    print(f"{args.out}: curves of {len(histories)} run(s) (steps: {steps})")


if __name__ == "__main__":
    main()

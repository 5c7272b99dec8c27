"""Plot how the alignment adapter and the shrinking bridge see one utterance.

    python -m soundwave.bin.plot_alignment --model-dir exp/mini/align \\
        --cuts data/fbank/cuts_test.jsonl.gz [--utt ID | --index 0] --out exp/mini/alignment.png

The PNG shows the Whisper log-mel spectrogram of the utterance, under it the adapter's
25 Hz CTC argmax labels (token pieces over their frames, blanks as light dots), and the
frames the shrinking bridge keeps (shaded; markers on the spectrogram).  The title gives
the transcript, the greedy CTC transcript and "N adapter frames -> V LLM positions
(x tokens)".  Any stage dir of a model with a CTC head works (bridge runs, peaks or none);
for one without (linear) it says in one line that there is no alignment to plot, writes
nothing and exits 0.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main
from soundwave.viz.figure import save_png


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plot_alignment",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--model-dir", required=True, help="a stage dir (align, shrink, sft)")
    parser.add_argument("--cuts", required=True, help="lhotse manifest with features")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--utt", help="the utterance (cut) id")
    which.add_argument("--index", type=int, default=0, help="else the N-th cut (default 0)")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--dpi", type=int, default=120)
    return parser


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    # imported here: --help stays fast
    from transformers.utils import logging as hf_logging

    from soundwave.data.lhotse_io import load_cuts
    from soundwave.models.stage_dir import load_stage
    from soundwave.viz.alignment import compute_alignment, pick_cut, plot_alignment

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    cut = pick_cut(load_cuts(args.cuts, lazy=True), args.utt, args.index, args.cuts)
    model = load_stage(args.model_dir)
    if not model.cfg.has_ctc:
        print(f"{args.model_dir}: bridge={model.cfg.bridge} has no CTC head: no alignment to plot")
        return
    view = compute_alignment(model, cut)
    save_png(plot_alignment(view), args.out, args.dpi)
    print(f"{args.out}: {view.cut_id}: {view.summary()}")


if __name__ == "__main__":
    main()

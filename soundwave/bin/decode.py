"""Decode a manifest with a trained model (any stage) into Kaldi-style hypothesis files.

Usage:
    python -m soundwave.bin.decode --model-dir exp/mini/sft --cuts data/fbank/cuts_test.jsonl.gz \
        --tasks asr st_en_de --out-dir 'exp/mini/sft/decode_test_{task}' [--config conf/decode.yaml] [key=value ...]
    # one job of N (the job runner substitutes JOB), then merge:
    python -m soundwave.bin.decode ... --shard JOB/N
    python -m soundwave.bin.decode --merge N --tasks asr st_en_de --out-dir 'exp/mini/sft/decode_test_{task}'

The model is loaded once and every task is decoded in turn; ``{task}`` in --out-dir is
replaced by the task name.  Each output dir gets ``hyp.txt`` and ``ref.txt``
(``<utt-id> <text>``), ``ctc_hyp.txt`` (the adapter's CTC transcript, with ``with_ctc``),
``shrink_stats.txt`` (``<utt-id> <seconds> <adapter-frames> <llm-positions>``) and
``decode.json`` (counts, speed, LLM positions per second and per transcript token).
``guard=flag`` adds ``guard.txt`` (per utterance: flagged or not, the LLM's disagreement
with the CTC transcript, repeats, words per second, reasons; limits ``guard_limits.*``),
``guard=fallback`` also replaces each flagged transcription by the CTC transcript and
keeps the LLM's in ``hyp_llm.txt``.  ``measure_ttft=N`` times N utterances at batch 1 to
the first token (``ttft_ms``, ``ttft_median_ms`` in decode.json).

An utterance longer than ``long_form_cfg.max_segment_s`` (20 s) is decoded long-form
(``long_form=true``, the default; ``false`` decodes it whole): cut at the adapter's CTC
blank runs, its pieces decoded and the answers joined in order, for asr and st_* (qa,
gender... answer on the whole recording); see README, *Long recordings*.

``--instruction TEXT`` asks every utterance the same thing (e.g. "Please transcribe the
audio.", the released model's phrasing) instead of the task's evaluation instruction;
the task still names the reference.  It is the config key ``instruction``.
"""

from __future__ import annotations

import argparse
import json

from soundwave.decode.run import decode_to_dirs, merge_decoded
from soundwave.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.decode",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", help="a stage output directory (align, shrink or sft)")
    parser.add_argument(
        "--cuts", help="CutSet manifest with features (or audio with data.on_the_fly=true)"
    )
    parser.add_argument(
        "--tasks", nargs="+", default=["asr"], help="tasks to decode (asr st_en_de gender qa ...)"
    )
    parser.add_argument(
        "--out-dir", required=True, help="output directory; {task} is replaced by the task"
    )
    parser.add_argument("--config", help="decoding YAML config")
    parser.add_argument("--instruction", help="the instruction for every utterance")
    parser.add_argument(
        "--shard", default="1/1", help="J/N: decode the J-th of N interleaved shards"
    )
    parser.add_argument("--merge", type=int, metavar="N", help="merge N decoded shards and exit")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args(argv)
    if args.merge:
        merge_decoded(args.out_dir, args.tasks, args.merge)
        return
    if not args.model_dir or not args.cuts:
        raise UserError("--model-dir and --cuts are required (unless --merge)")
    overrides = list(args.overrides)
    if args.instruction is not None:  # quoted: the text is not YAML
        overrides.append(f"instruction={json.dumps(args.instruction)}")
    decode_to_dirs(
        args.model_dir, args.cuts, args.tasks, args.out_dir, args.config, overrides, args.shard
    )


if __name__ == "__main__":
    main()

"""Answer a manifest's tasks with a Soundwave model's LLM on the reference transcripts:
the text topline of RESULTS.md (a cascade with a perfect recogniser).

    python -m soundwave.bin.decode_topline --model-dir exp/mini/sft \\
        --cuts data/fbank/cuts_test.jsonl.gz --tasks asr st_en_de qa \\
        --out-dir 'exp/mini/topline/decode_test_{task}' [--config conf/decode.yaml] [--shard J/N]
    python -m soundwave.bin.decode --merge N --tasks asr st_en_de qa --out-dir ...

The LLM is the one ``--model-dir``'s config names, as it was before any Soundwave stage
(no LoRA), with the model's system prompt; each utterance's task is asked with its
text-only prompt, the transcript in place of the audio.  The generation settings are the
decoding config's.  Writes what ``decode`` writes (``hyp.txt``, ``ref.txt``,
``decode.json``), so ``score`` and ``make_results`` show it beside the stages.  Tasks
whose answer is not in the words (gender) have no text topline and are refused.
"""

from __future__ import annotations

import argparse

from soundwave.decode.text_topline import text_topline_to_dirs
from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.decode_topline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", required=True, help="a stage dir (its config's LLM)")
    parser.add_argument("--cuts", required=True, help="CutSet manifest with transcripts")
    parser.add_argument("--tasks", nargs="+", default=["asr"], help="tasks (asr st_en_de qa ...)")
    parser.add_argument(
        "--out-dir", required=True, help="output directory; {task} is replaced by the task"
    )
    parser.add_argument("--config", help="decoding YAML config (its generation settings)")
    parser.add_argument("--shard", default="1/1", help="J/N: the J-th of N interleaved shards")
    parser.add_argument("overrides", nargs="*", help="key=value decoding config overrides")
    args = parser.parse_args(argv)
    text_topline_to_dirs(
        args.model_dir, args.cuts, args.tasks, args.out_dir, args.config, args.overrides, args.shard
    )


if __name__ == "__main__":
    main()

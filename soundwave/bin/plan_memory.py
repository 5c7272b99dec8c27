"""Plan GPU memory for a training config: the full-size model on the meta device.

Usage:
    python -m soundwave.bin.plan_memory conf/shrink.yaml --gpus 1,2,4,8 [key=value ...]

Prints, as markdown: the parameters per module and those each stage trains, and the GiB
per GPU (weights, gradients, optimizer, FSDP's working set, activations at the
configured ``data.max_duration``) under ddp and fsdp for each GPU count.  The model's
``encoder_path`` and ``llm_path`` are local dirs with a config.json or known model names
(whisper-large-v2/v3, Llama-3.1-8B, Llama-3.2-1B/3B, Qwen2.5-1.5B/7B); no weights are read.
"""

from __future__ import annotations

import argparse

from soundwave.config import load_config
from soundwave.errors import cli_main
from soundwave.train.memory import BatchShape, plan_memory
from soundwave.train.stages import TrainConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.plan_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="stage YAML config")
    parser.add_argument("--gpus", default="1,2,4,8", help="GPU counts, comma-separated")
    parser.add_argument("--utt-seconds", type=float, default=15.0, help="mean utterance length")
    parser.add_argument(
        "--tokens-per-second", type=float, default=4.0, help="LLM tokens per second of speech"
    )
    parser.add_argument("--prompt-tokens", type=int, default=64, help="prompt length in tokens")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_intermixed_args(argv)
    try:
        args.gpus = [int(n) for n in args.gpus.split(",")]
    except ValueError:
        parser.error(f"--gpus: not a comma-separated list of counts: {args.gpus}")
    return args


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    shape = BatchShape(args.utt_seconds, args.tokens_per_second, args.prompt_tokens)
    print(plan_memory(load_config(TrainConfig, args.config, args.overrides), args.gpus, shape))


if __name__ == "__main__":
    main()

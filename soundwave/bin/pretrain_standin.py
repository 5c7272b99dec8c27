"""Pretrain the stand-in "pretrained" models of offline recipes, with the shared trainer.

See :mod:`soundwave.offline.standin.pretrain` for what the two stand-ins are.

Usage:
    python -m soundwave.bin.pretrain_standin --config conf/standin_encoder.yaml \
        --exp-dir exp/standin/encoder_train --out-dir exp/standin/whisper [key=value ...]
    python -m soundwave.bin.pretrain_standin --config conf/standin_llm.yaml \
        --exp-dir exp/standin/llm_train --out-dir exp/standin/llm [key=value ...]

Re-running with the same --exp-dir resumes from the last checkpoint.
"""

from __future__ import annotations

import argparse

from soundwave.config import load_config
from soundwave.errors import cli_main
from soundwave.offline.standin.pretrain import StandinConfig, pretrain


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.pretrain_standin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True)
    parser.add_argument("--exp-dir", required=True, help="checkpoints and logs")
    parser.add_argument("--out-dir", required=True, help="the HF-layout model directory to write")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    return parser.parse_args(argv)


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = load_config(StandinConfig, args.config, args.overrides)
    steps = pretrain(cfg, args.exp_dir, args.out_dir)
    print(f"pretrain_standin: {cfg.kind} trained for {steps} steps -> {args.out_dir}")


if __name__ == "__main__":
    main()

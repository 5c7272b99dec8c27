"""Train one Soundwave stage (align | shrink | sft) from a YAML config.

Usage:
    python -m soundwave.bin.train --config conf/align.yaml --exp-dir exp/mini/align [key=value ...]
    torchrun --nproc_per_node 2 -m soundwave.bin.train --config ... --exp-dir ...

``key=value`` overrides any config entry (``optim.lr=3e-4``, ``train.max_steps=200``).
Re-running with the same --exp-dir resumes exactly from the last checkpoint.  The stage
output (trained weights as safetensors + soundwave_config.json) is written to --exp-dir.
"""

from __future__ import annotations

import argparse

from soundwave.config import load_config
from soundwave.errors import cli_main
from soundwave.train.stages import TrainConfig, run_stage


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="stage YAML config")
    parser.add_argument("--exp-dir", required=True, help="output directory of this stage")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    return parser.parse_args(argv)


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_stage(load_config(TrainConfig, args.config, args.overrides), args.exp_dir)


if __name__ == "__main__":
    main()

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
import datetime
import json
import logging
import sys

import torch

from soundwave.config import config_hash, load_config, to_dict
from soundwave.errors import cli_main
from soundwave.fileio import atomic_write
from soundwave.train.checkpoint import load_trainable_state
from soundwave.train.data import BatchFactory, ctc_inputs, soundwave_inputs, speech_counts
from soundwave.train.distributed import cleanup, device_for, init_distributed
from soundwave.train.stages import TrainConfig, build_model, make_valid_fn
from soundwave.train.trainer import Trainer


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
    cfg = load_config(TrainConfig, args.config, args.overrides)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    info = init_distributed()
    device = device_for(info)
    torch.manual_seed(cfg.train.seed)
    try:
        model = build_model(cfg)
        inputs = ctc_inputs if cfg.stage == "align" else soundwave_inputs
        batches = BatchFactory(cfg.data, cfg.train.seed, info.world_size, info.rank, inputs)
        trainer = Trainer(
            model,
            batches,
            args.exp_dir,
            cfg.train,
            cfg.optim,
            dist_info=info,
            device=device,
            valid_fn=make_valid_fn(cfg, device) if info.is_main else None,
            wrap_policy=model.fsdp_wrap_modules(),
            config_hash=config_hash(cfg),
            count_fn=speech_counts,
        )
        history = trainer.fit()
        final = trainer.averaged_state()
        if info.is_main:
            load_trainable_state(model, final)
            provenance = {
                "stage": cfg.stage,
                "steps": trainer.step,
                "config_hash": config_hash(cfg),
                "config": to_dict(cfg),
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
            }
            model.save_stage(args.exp_dir, extra=provenance)
            with atomic_write(f"{args.exp_dir}/history.json") as f:
                json.dump(history, f, indent=1)
    finally:
        cleanup(info)


if __name__ == "__main__":
    main()

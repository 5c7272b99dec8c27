"""Start a training on several processes: torchrun here, srun + torchrun inside a Slurm job.

Usage: python -m soundwave.bin.launch_train --nproc-per-node N [--nodes M] -- TRAIN-ARGS...

TRAIN-ARGS are soundwave.bin.train's (``--config conf/align.yaml --exp-dir ... k=v``).
Outside Slurm it runs ``torchrun --standalone``; inside a Slurm allocation (a job of
``utils/slurm.sh``) one srun task per node runs torchrun with a c10d rendezvous on the
first node (see soundwave/jobs/launch.py).  Exits with the training's status.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run :func:`soundwave.jobs.launch.launch_training`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.launch_train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nproc-per-node", type=int, required=True, metavar="N")
    parser.add_argument("--nodes", type=int, default=1, metavar="M")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, metavar="-- TRAIN-ARGS")
    args = parser.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args

    from soundwave.jobs.launch import launch_training

    return launch_training(args.nproc_per_node, args.nodes, train_args)


if __name__ == "__main__":
    sys.exit(main())

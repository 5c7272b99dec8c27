"""One training run from model to saved output: fit, average, save, history.

Every trained thing (the three Soundwave stages, the offline recipe's stand-ins) goes
through :func:`fit_and_save`, so resume, checkpoint averaging and the ``history.json``
that reports read behave the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from torch import nn

from soundwave.fileio import atomic_write
from soundwave.train.checkpoint import load_trainable_state
from soundwave.train.distributed import DistInfo
from soundwave.train.optim import OptimConfig
from soundwave.train.trainer import BatchFactory, Hooks, LoopConfig, Trainer

HISTORY_NAME = "history.json"


def fit_and_save(
    model: nn.Module,
    batches: BatchFactory,
    exp_dir: str | Path,
    loop: LoopConfig,
    optim: OptimConfig,
    save: Callable[[nn.Module, int], None],
    dist_info: DistInfo | None = None,
    hooks: Hooks | None = None,
    config_hash: str | None = None,
) -> int:
    """Train ``model`` (resuming from ``exp_dir``), load the averaged final weights and,
    on the main process, ``save(model, steps)`` and write ``history.json`` last.
    Returns the number of optimizer steps."""
    trainer = Trainer(model, batches, exp_dir, loop, optim, dist_info, hooks, config_hash)
    history = trainer.fit()
    final = trainer.averaged_state()
    if trainer.dist.is_main:
        load_trainable_state(model, final)
        save(model, trainer.step)
        with atomic_write(Path(exp_dir) / HISTORY_NAME) as f:
            json.dump(history, f, indent=1)
    return trainer.step

"""One training run from model to saved output: fit, average, save, history.

Every trained thing (the three Soundwave stages, the offline recipe's stand-ins) goes
through :func:`fit_and_save`, so resume, checkpoint averaging and the ``history.json``
that reports read behave the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from soundwave.config import config_hash, non_default_dict
from soundwave.fileio import atomic_write, reported_as_user_error
from soundwave.train.checkpoint import load_trainable_state
from soundwave.train.distributed import DistInfo
from soundwave.train.optim import OptimConfig
from soundwave.train.trainer import RESULT_NEUTRAL, BatchFactory, Hooks, LoopConfig, Trainer

HISTORY_NAME = "history.json"


def resume_hash(cfg: Any) -> str:
    """The hash a run's checkpoints record and a resume must match: the config (a dataclass
    with a ``train`` :class:`LoopConfig`) less the result-neutral loop fields, so that a
    resume may train longer (``train.max_steps``) or log, validate and save at other steps.
    With the cosine schedule a longer run changes the learning rate of the remaining
    steps; the trainer warns then.  Fields at their defaults are left out
    (:func:`non_default_dict`), so that a version of soundwave that adds a config field
    still resumes the runs of the version before."""
    data = non_default_dict(cfg)
    loop = data.get("train")
    if isinstance(loop, dict):
        data["train"] = {k: v for k, v in loop.items() if k not in RESULT_NEUTRAL}
    return config_hash(data)


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
    trainer.gather_for_saving()
    if trainer.dist.is_main:
        load_trainable_state(model, final)
        save(model, trainer.step)
        history_path = Path(exp_dir) / HISTORY_NAME
        with reported_as_user_error(history_path), atomic_write(history_path) as f:
            json.dump(history, f, indent=1)
    return trainer.step

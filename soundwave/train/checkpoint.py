"""Training checkpoints for exact resume, keep-last-N and checkpoint averaging.

A checkpoint is a directory ``<exp>/checkpoints/step-<N>/`` holding
``trainable.safetensors`` (only parameters that train), ``optimizer.pt`` and
``scheduler.pt`` (tensors and plain containers only: loaded with ``weights_only=True``),
``rng.pt`` (torch/python RNG states) and ``state.json`` (step, epoch, position in the
epoch, counters).  It is written under a temporary name and renamed when complete, so a
run killed at any moment leaves only whole checkpoints behind.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from soundwave.fileio import atomic_dir

_STEP_DIR = re.compile(r"^step-(\d+)$")


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train, detached and contiguous, keyed by their names."""
    return {
        name: p.detach().contiguous().cpu()
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise RuntimeError(
            f"checkpoint does not match the model: missing {missing[:3]}, unknown {unknown[:3]}"
        )
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].dtype))


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    np_state = np.random.get_state()
    state["numpy"] = [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def save_checkpoint(
    ckpt_root: Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    scheduler_state: dict[str, Any],
    state: dict[str, Any],
    rng: dict[str, Any],
) -> Path:
    """Write ``<ckpt_root>/step-<step>`` atomically and return its path."""
    path = ckpt_root / f"step-{step:08d}"
    with atomic_dir(path) as tmp:
        save_file(model_state, str(tmp / "trainable.safetensors"))
        torch.save(optimizer_state, tmp / "optimizer.pt")
        torch.save(scheduler_state, tmp / "scheduler.pt")
        torch.save(rng, tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
    return path


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not ckpt_root.is_dir():
        return []
    found = [
        p for p in ckpt_root.iterdir() if _STEP_DIR.match(p.name) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def load_checkpoint(path: Path) -> dict[str, Any]:
    return {
        "model": load_file(str(path / "trainable.safetensors")),
        "optimizer": torch.load(path / "optimizer.pt", weights_only=True),
        "scheduler": torch.load(path / "scheduler.pt", weights_only=True),
        "rng": torch.load(path / "rng.pt", weights_only=True),
        "state": json.loads((path / "state.json").read_text()),
    }


def prune_checkpoints(ckpt_root: Path, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for old in list_checkpoints(ckpt_root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def average_checkpoints(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the trainable weights of several checkpoints (float params only)."""
    if not paths:
        raise ValueError("no checkpoints to average")
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        for name, value in load_file(str(path / "trainable.safetensors")).items():
            acc = value.double() if value.is_floating_point() else value
            total[name] = total[name] + acc if name in total and value.is_floating_point() else acc
    return {
        name: (value / len(paths)).float() if value.is_floating_point() else value
        for name, value in total.items()
    }

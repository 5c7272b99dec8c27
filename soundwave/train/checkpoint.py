"""Training checkpoints for exact resume, keep-last-N and checkpoint averaging.

A checkpoint is a directory ``<exp>/checkpoints/step-<N>/`` holding
``trainable.safetensors`` (only parameters that train), ``optimizer.pt`` and
``scheduler.pt`` (tensors and plain containers only: loaded with ``weights_only=True``),
``rng.pt`` (torch/python/numpy RNG states of every rank) and ``state.json`` (format
version, step, epoch, position in the epoch, counters).  It is written under a temporary name and renamed when
complete, so a run killed at any moment leaves only whole checkpoints behind.

Reading one checks every file: a damaged file (truncated, overwritten) raises
:class:`DamagedCheckpoint`, after which the trainer falls back to an older checkpoint; a
file holding pickled objects (refused by ``weights_only``) or a ``state.json`` of a newer
format raises a plain :class:`UserError`.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir, reported_as_user_error
from soundwave.train.distributed import DistInfo, gather_to_main

_STEP_DIR = re.compile(r"^step-(\d+)$")
FORMAT = 1  # the state.json format this version writes and reads (none recorded: 1)
# state.json entries a checkpoint needs, with their types
STATE_FIELDS = {"step": int, "epoch": int, "batches_in_epoch": int, "bad_steps": int}


class DamagedCheckpoint(UserError):
    """A checkpoint file that cannot be read (truncated, overwritten, of the wrong kind)."""


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train, detached and contiguous, keyed by their names."""
    return {
        name: p.detach().contiguous().cpu()
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def state_mismatch(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """What keeps ``state`` from loading into ``model``'s trainable parameters (None: fits)."""
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        return f"missing {missing[:3]}, unknown {unknown[:3]}"
    for name, value in state.items():
        if tuple(value.shape) != tuple(params[name].shape):
            return f"{name} has shape {tuple(value.shape)}, the model {tuple(params[name].shape)}"
    return None


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    problem = state_mismatch(model, state)
    if problem:
        raise RuntimeError(f"checkpoint does not match the model: {problem}")
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


def all_ranks_rng_state(info: DistInfo) -> dict[str, Any]:
    """On the main process, its RNG states with every other rank's under ``other_ranks``
    (their dropout draws differ: one shared state would not resume them exactly); empty
    elsewhere.  Collective."""
    if not info.enabled:
        return rng_state()
    # as torch.save bytes: gather_object's own pickling fails on tensors
    buffer = io.BytesIO()
    torch.save(rng_state(), buffer)
    found = gather_to_main(buffer.getvalue(), info)
    if found is None:
        return {}
    states = [torch.load(io.BytesIO(raw), weights_only=True) for raw in found]
    return {**states[0], "other_ranks": states[1:]}


def own_rng_state(saved: dict[str, Any], rank: int) -> dict[str, Any]:
    """Rank ``rank``'s part of :func:`all_ranks_rng_state` (a checkpoint of one process,
    or of a version that kept only the main one's: that one)."""
    others = saved.get("other_ranks", [])
    return others[rank - 1] if 0 < rank <= len(others) else saved


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
    with reported_as_user_error(path, "cannot write the checkpoint"), atomic_dir(path) as tmp:
        save_file(model_state, str(tmp / "trainable.safetensors"))
        torch.save(optimizer_state, tmp / "optimizer.pt")
        torch.save(scheduler_state, tmp / "scheduler.pt")
        torch.save(rng, tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps({"format": FORMAT, **state}, indent=1))
    return path


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not ckpt_root.is_dir():
        return []
    found = [
        p for p in ckpt_root.iterdir() if _STEP_DIR.match(p.name) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def short_reason(err: BaseException) -> str:
    """The first sentence of an exception's message (torch's run to a dozen lines)."""
    lines = str(err).strip().splitlines()
    first = lines[0].split(". ")[0].rstrip(".") if lines else ""
    return first[:160] or type(err).__name__


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise DamagedCheckpoint("file missing", path) from None
    except Exception as err:  # safetensors raises its own error type for every bad header
        raise DamagedCheckpoint(f"damaged safetensors file ({short_reason(err)})", path) from None


def _load_torch(path: Path, kind: type) -> Any:
    try:
        value = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise DamagedCheckpoint("file missing", path) from None
    except pickle.UnpicklingError as err:
        # weights_only names the first class it would have to import: a pickled object;
        # anything else it stumbles on (random bytes) is damage
        found = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
        if found:
            raise UserError(
                f"refused: it holds pickled Python objects ({found.group(1)}), and checkpoints "
                "are read with weights_only (tensors and plain containers only)",
                path,
            ) from None
        raise DamagedCheckpoint("damaged file (not a torch tensor file)", path) from None
    except Exception as err:  # truncated zip archives, random bytes, ...
        raise DamagedCheckpoint(f"damaged file ({short_reason(err)})", path) from None
    if not isinstance(value, kind):
        raise DamagedCheckpoint(f"holds a {type(value).__name__}, not a {kind.__name__}", path)
    return value


def read_state(path: Path) -> dict[str, Any]:
    """The checked ``state.json`` of checkpoint ``path``."""
    file = path / "state.json"
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DamagedCheckpoint("file missing", file) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedCheckpoint(f"damaged JSON ({short_reason(err)})", file) from None
    if not isinstance(state, dict):
        raise DamagedCheckpoint("not a JSON object", file)
    fmt = state.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise DamagedCheckpoint(f"bad format version {fmt!r}", file)
    if fmt > FORMAT:
        raise UserError(
            f"written by a newer soundwave (checkpoint format {fmt}; this version reads up to "
            f"{FORMAT}): resume it with that version",
            file,
        )
    for key, kind in STATE_FIELDS.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or value < 0:
            raise DamagedCheckpoint(f"'{key}' missing or not a count ({value!r})", file)
    if not isinstance(state.get("history", []), list):
        raise DamagedCheckpoint("'history' is not a list", file)
    return state


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Every file of checkpoint ``path``, each checked (see the module doc)."""
    return {
        "state": read_state(path),
        "model": _load_tensors(path / "trainable.safetensors"),
        "optimizer": _load_torch(path / "optimizer.pt", dict),
        "scheduler": _load_torch(path / "scheduler.pt", dict),
        "rng": _load_torch(path / "rng.pt", dict),
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
        for name, value in _load_tensors(path / "trainable.safetensors").items():
            acc = value.double() if value.is_floating_point() else value
            total[name] = total[name] + acc if name in total and value.is_floating_point() else acc
    return {
        name: (value / len(paths)).float() if value.is_floating_point() else value
        for name, value in total.items()
    }

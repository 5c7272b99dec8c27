"""Reading tensors out of an HF checkpoint directory (single or sharded safetensors)."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open

from soundwave.errors import UserError


def require_dir(path: str | os.PathLike, what: str) -> Path:
    """Models load from local dirs only (no hub look-ups at run time)."""
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"{what} directory not found", p)
    return p


def checkpoint_files(model_dir: str | os.PathLike) -> list[Path]:
    """The weight files of an HF model directory, safetensors preferred."""
    d = require_dir(model_dir, "model")
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = d / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError) as err:
                raise UserError(f"bad checkpoint index: {err}", index) from None
            return [d / name for name in sorted(set(weight_map.values()))]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (d / name).is_file():
            return [d / name]
    raise UserError("no model.safetensors (or pytorch_model.bin) in the model directory", d)


def read_tensors(
    model_dir: str | os.PathLike, select: Callable[[str], str | None]
) -> dict[str, torch.Tensor]:
    """Load the tensors whose name ``select`` maps to a new name (None = skip)."""
    out: dict[str, torch.Tensor] = {}
    for path in checkpoint_files(model_dir):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), framework="pt") as f:
                    for name in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                        new = select(name)
                        if new is not None:
                            out[new] = f.get_tensor(name)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
                out.update({new: v for k, v in state.items() if (new := select(k)) is not None})
        except pickle.UnpicklingError as err:
            if "Unsupported global" not in str(err):
                raise UserError("damaged weights file (not a torch tensor file)", path) from None
            raise UserError(
                "refused: it holds pickled Python objects (weights are read with weights_only)",
                path,
            ) from None
        except Exception as err:  # truncated or overwritten: each library raises its own type
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise UserError(f"damaged weights file ({first})", path) from None
    return out


def strip_prefix(prefixes: tuple[str, ...]) -> Callable[[str], str | None]:
    """A ``select`` for :func:`read_tensors`: keep names under one of ``prefixes``, stripped."""

    def select(name: str) -> str | None:
        for p in prefixes:
            if name.startswith(p):
                return name[len(p) :]
        return None

    return select

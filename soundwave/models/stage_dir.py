"""Stage directories: the one module that reads and writes them (save, load, merged export).

A stage dir holds ``trained.safetensors`` (every weight not taken from the base encoder or
LLM: adapter, CTC head, bridge, LoRA) and ``soundwave_config.json`` (the model config
naming the base dirs, plus provenance).  An export dir holds the LLM with LoRA merged in
HF layout under ``llm/`` and the same two files, with ``llm_path: "llm"``.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir, atomic_path, reported_as_user_error
from soundwave.models.config import SoundwaveConfig
from soundwave.models.soundwave import SoundwaveModel, is_base_param
from soundwave.stages import CONFIG_NAME, WEIGHTS_NAME, read_stage_info


def trained_state(model: SoundwaveModel, export: bool = False) -> dict[str, torch.Tensor]:
    """The weights a stage dir holds (detached CPU copies): those trainable now or in an
    earlier stage of this model, or loaded from a checkpoint, and LoRA.  ``export``: every
    audio-module weight and no LoRA (it is merged into the exported LLM)."""

    if export:
        names = {n for n, _ in model.named_parameters()}
        names = {n for n in names if not is_base_param(n) and not n.startswith("llm.")}
    else:
        names = model.saved_parameter_names()
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if n in names}


def save_safetensors(
    state: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict | None = None
) -> None:
    """save_file to a temporary name beside ``path``, then rename (never half-written);
    the file gets the umask's mode like every other output (save_file makes it 0600)."""
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", **(metadata or {})})


def provenance(model: SoundwaveModel, extra: dict | None) -> dict[str, Any]:
    import peft
    import transformers

    import soundwave

    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "stage": model.stage,
        "lora": model.has_lora,
        "trainable": sorted(n for n, p in model.named_parameters() if p.requires_grad),
        "versions": {
            "soundwave": soundwave.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
        "extra": extra or {},
    }


def save_stage(
    model: SoundwaveModel, out_dir: str | os.PathLike, extra: dict | None = None
) -> None:
    """Write the weights first and the config last: a dir with a config is complete (on a
    failure, e.g. a full disk, neither is left).  Other files in ``out_dir`` (logs, ...)
    are left alone."""
    out = Path(out_dir)
    with reported_as_user_error(out, "cannot write the stage dir"):
        # an old config beside new weights would pass for a complete dir: it goes first
        (out / CONFIG_NAME).unlink(missing_ok=True)
        try:
            save_safetensors(trained_state(model), out / WEIGHTS_NAME, {"stage": str(model.stage)})
            model.cfg.to_json(out / CONFIG_NAME, extra={"provenance": provenance(model, extra)})
        except BaseException:
            (out / WEIGHTS_NAME).unlink(missing_ok=True)
            raise


def read_stage_config(path: str | os.PathLike, overrides: dict | None = None) -> SoundwaveConfig:
    """The config of a stage dir; relative base paths are relative to the dir."""
    info = read_stage_info(path)
    cfg = SoundwaveConfig.from_dict(info.get("model", {}), Path(path) / CONFIG_NAME)
    fix = {}
    for key in ("encoder_path", "llm_path"):
        value = Path(getattr(cfg, key))
        if not value.is_absolute() and (Path(path) / value).is_dir():
            fix[key] = str(Path(path) / value)
    return cfg.replace(**fix, **(overrides or {}))


def load_trained_state(model: SoundwaveModel, path: str | os.PathLike) -> None:
    """Copy a stage's weights into ``model``.  Weights the file lacks keep their values
    (Stage I output into a Stage II model); weights the model lacks are an error."""
    weights = Path(path) / WEIGHTS_NAME
    if not weights.is_file():
        raise UserError(f"no {WEIGHTS_NAME} in the stage dir", path)
    try:
        state = load_file(str(weights))
    except Exception as err:  # truncated or overwritten (safetensors' own error type)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise UserError(f"damaged weights file ({first})", weights) from None
    load_trained_state_dict(model, state, weights)


def load_trained_state_dict(
    model: SoundwaveModel,
    state: dict[str, torch.Tensor],
    where: str | os.PathLike,
    require_all: bool = False,
) -> None:
    """Copy ``state`` (our parameter names) into ``model``; ``require_all``: every audio-module
    weight must be given."""
    if any("lora_" in k for k in state) and not model.has_lora:
        model.add_lora()
    params = dict(model.named_parameters())
    unexpected = [k for k in state if k not in params]
    if unexpected:
        raise UserError(
            f"{len(unexpected)} weights do not fit this model (e.g. {unexpected[0]}); "
            "was it saved with another bridge or LLM?",
            where,
        )
    if require_all:
        missing = [
            k for k in params if not is_base_param(k) and "lora_" not in k and k not in state
        ]
        if missing:
            raise UserError(f"{len(missing)} model weights missing (e.g. {missing[0]})", where)
    for k, v in state.items():
        if tuple(v.shape) != tuple(params[k].shape):
            raise UserError(
                f"{k} has shape {tuple(v.shape)}, the model {tuple(params[k].shape)}", where
            )
    with torch.no_grad():
        for k, v in state.items():
            params[k].copy_(v)
    model.trained_names.update(state)


def merged_llm_state(model: SoundwaveModel) -> dict[str, torch.Tensor]:
    """The base LLM's state dict with W + BA*scale for every LoRA layer (model untouched)."""
    if not model.has_lora:
        return dict(model.llm.state_dict())
    from peft.tuners.lora import LoraLayer

    base = model.llm.get_base_model()
    state = {
        k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k
    }
    with torch.no_grad():
        for name, module in base.named_modules():
            if isinstance(module, LoraLayer):
                weight = module.get_base_layer().weight
                delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
                state[f"{name}.weight"] = (weight + delta).to(weight.dtype)
    return state


def export_merged(model: SoundwaveModel, out_dir: str | os.PathLike) -> None:
    with atomic_dir(out_dir) as tmp:
        base = model.llm.get_base_model() if model.has_lora else model.llm
        base.save_pretrained(str(tmp / "llm"), state_dict=merged_llm_state(model))
        model.tokenizer.save_pretrained(str(tmp / "llm"))
        save_safetensors(trained_state(model, export=True), tmp / WEIGHTS_NAME)
        info = provenance(model, {"exported_merged": True})
        info["lora"] = False
        model.cfg.replace(llm_path="llm").to_json(tmp / CONFIG_NAME, extra={"provenance": info})


def load_stage(path: str | os.PathLike, overrides: dict | None = None) -> SoundwaveModel:
    """Rebuild the model of a stage (or export) dir and load its weights."""
    model = SoundwaveModel(read_stage_config(path, overrides))
    load_trained_state(model, path)
    return model

"""The three Soundwave training stages, one table for the trainer, the reports and the
recipes; and the names and config reader of a stage directory.

Each stage names the recipe stage number that runs it, the audio modules it trains, and
whether LoRA trains and the LLM runs (Stage I is CTC only: no LLM forward).  The encoder
and the base LLM are always frozen.  A stage dir holds ``trained.safetensors`` and
``soundwave_config.json`` (the model config and provenance); :mod:`soundwave.models.stage_dir`
writes and loads them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundwave.errors import UserError

CONFIG_NAME = "soundwave_config.json"
WEIGHTS_NAME = "trained.safetensors"


@dataclass(frozen=True)
class Stage:
    name: str
    number: int  # the recipe's stage number (run.sh --stage N)
    trains: tuple[str, ...]  # audio modules trained (sft: the bridge only if asked)
    lora: bool  # LoRA added and trained
    ctc_only: bool  # CTC loss only, no LLM forward
    summary: str


STAGES = (
    Stage("align", 3, ("adapter", "ctc_head"), False, True, "alignment: adapter + CTC head"),
    Stage("shrink", 4, ("adapter", "ctc_head", "bridge"), True, False, "shrinking bridge + LoRA"),
    Stage("sft", 5, ("bridge",), True, False, "supervised fine-tuning: LoRA (+ bridge)"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def get_stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise UserError(f"unknown stage {name!r}; expected one of {', '.join(STAGE_NAMES)}")


def read_stage_info(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``soundwave_config.json`` of stage dir ``path``."""
    cfg_path = Path(path) / CONFIG_NAME
    if not cfg_path.is_file():
        raise UserError(f"not a Soundwave stage dir (no {CONFIG_NAME})", path)
    try:
        return json.loads(cfg_path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"invalid JSON: {err.msg}", cfg_path, err.lineno) from None


def recorded_config_hash(info: dict[str, Any]) -> str | None:
    """The training config hash a stage dir's config records (None if it has none)."""
    recorded = info.get("provenance", {}).get("extra", {}).get("config_hash")
    return recorded if isinstance(recorded, str) else None

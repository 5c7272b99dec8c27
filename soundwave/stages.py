"""The three Soundwave training stages: one table for the trainer, the reports and recipes.

Each stage names the recipe stage number that runs it, the audio modules it trains, and
whether LoRA trains and the LLM runs (Stage I is CTC only: no LLM forward).  The encoder
and the base LLM are always frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from soundwave.errors import UserError


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

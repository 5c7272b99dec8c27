"""The Soundwave training stages (the table in :mod:`soundwave.stages`) as trainer runs.

- ``align`` (Stage I): adapter + CTC head, CTC loss only, no LLM forward.
- ``shrink`` (Stage II): shrinking bridge + LoRA (and the adapter/CTC head), LM loss + λ·CTC,
  initialised from the ``align`` output.
- ``sft`` (Stage III): LoRA (and optionally the bridge) on instruction data, initialised
  from the ``shrink`` output.
"""

from __future__ import annotations

import datetime
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from soundwave.config import config_hash, to_dict
from soundwave.data.batches import BatchFactory, DataConfig
from soundwave.data.collate import ctc_inputs, soundwave_inputs, speech_counts
from soundwave.data.lhotse_io import load_cuts
from soundwave.decode.decode import DecodeConfig, GenerationConfig, decode_cuts
from soundwave.decode.hearing import HearingLimits
from soundwave.errors import UserError
from soundwave.models.config import SoundwaveConfig
from soundwave.score.metrics import task_score
from soundwave.stages import STAGE_NAMES, get_stage
from soundwave.train.distributed import cleanup, device_for, init_distributed
from soundwave.train.hearing import check_init_ctc_wer, deaf_reason, hearing_metrics
from soundwave.train.optim import OptimConfig
from soundwave.train.run import fit_and_save, resume_hash
from soundwave.train.trainer import Hooks, LoopConfig


@dataclass
class StageLoopConfig(LoopConfig):
    """The trainer's loop settings and what the Soundwave stages add to them (the hearing
    check and Stage II's guard, :mod:`soundwave.train.hearing`)."""

    # >0: every validation of Stage II / III also runs the hearing check on this many
    # utterances of each valid source and task (0: off)
    hearing_check: int = 0
    # stop the run (exit 1) after a validation whose hearing check finds the model deaf
    stop_if_deaf: bool = False
    hearing_limits: HearingLimits = field(default_factory=HearingLimits)
    # Stage II from a Stage I dir: refuse to start when the adapter's greedy CTC WER (%)
    # on the valid set is above this (None: no check)
    max_init_ctc_wer: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hearing_check < 0 or self.hearing_check == 1:
            raise ValueError(
                "train.hearing_check is a number of utterances: 0 (off) or 2 and more "
                "(it swaps audio between them)"
            )
        if self.stop_if_deaf and not self.hearing_check:
            raise ValueError("train.stop_if_deaf needs train.hearing_check (utterances) > 0")


@dataclass
class TrainConfig:
    stage: str = "align"
    init_from: str | None = None  # the previous stage's output directory
    # SoundwaveConfig fields (overrides with init_from), checked at config load
    model: dict[str, Any] = field(default_factory=dict, metadata={"fields_of": SoundwaveConfig})
    train_bridge: bool = True  # sft: also train the bridge (shrink always trains it)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: StageLoopConfig = field(default_factory=StageLoopConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGE_NAMES:
            raise ValueError(f"stage must be one of {', '.join(STAGE_NAMES)}, not '{self.stage}'")
        if self.train.hearing_check and get_stage(self.stage).ctc_only:
            raise ValueError(
                f"train.hearing_check checks the LLM, which stage {self.stage} does not run"
            )
        if self.train.hearing_check and not self.data.valid:
            raise ValueError("train.hearing_check runs with validation: set data.valid")


def apply_stage(model, stage: str, train_bridge: bool = True) -> None:
    """Make exactly the parameters of ``stage`` trainable (LoRA added where it trains)."""
    spec = get_stage(stage)
    if spec.ctc_only and not model.cfg.has_ctc:
        raise UserError("bridge=linear has no CTC alignment stage; start at shrink")
    trains = [m for m in spec.trains if train_bridge or m != "bridge" or stage == "shrink"]
    if spec.lora:
        model.add_lora()
    model.requires_grad_(False)
    for name in trains:
        module = getattr(model, name)
        if module is not None:
            module.requires_grad_(True)
    for p in model.lora_parameters():
        p.requires_grad_(spec.lora)
    model.trained_names.update(n for n, p in model.named_parameters() if p.requires_grad)
    model.stage = stage
    model.train(model.training)


def build_model(cfg: TrainConfig):
    """The model for ``cfg.stage``, initialised from ``cfg.init_from`` when given."""
    from soundwave.models import SoundwaveModel
    from soundwave.models.stage_dir import load_stage

    if cfg.init_from:
        model = load_stage(cfg.init_from, overrides=cfg.model or None)
    else:
        if cfg.stage != "align" and not cfg.model.get("encoder_path"):
            # a later stage starts from scratch only when the config builds a whole model
            # (e.g. the linear-projector baseline, which has no Stage I)
            raise UserError(f"stage '{cfg.stage}' needs init_from (the previous stage's directory)")
        try:
            model = SoundwaveModel(SoundwaveConfig(**cfg.model))
        except TypeError as err:
            raise UserError(f"bad model config: {err}") from None
    apply_stage(model, cfg.stage, train_bridge=cfg.train_bridge)
    return model


def make_valid_fn(cfg: TrainConfig, device: torch.device):
    """Validation = the task metric on ``valid_max_utts`` utterances of each valid source."""
    if not cfg.data.valid:
        return None
    mode = "ctc" if get_stage(cfg.stage).ctc_only else "generate"
    decode_cfg = DecodeConfig(mode=mode, with_stats=False, data=cfg.data, generation=cfg.generation)

    def valid_fn(model) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for source in cfg.data.valid:
            cuts = load_cuts(source.cuts, lazy=True)
            for task in source.tasks:
                rs = list(
                    decode_cuts(
                        model,
                        cuts,
                        task,
                        decode_cfg,
                        max_utts=cfg.data.valid_max_utts,
                        device=device,
                    )
                )
                name = f"ctc_{task}" if mode == "ctc" else task
                metric, value = task_score(name, [r.ref for r in rs], [r.hyp for r in rs])
                metrics[f"{name}_{metric}"] = value
        if cfg.train.hearing_check:
            metrics |= hearing_metrics(model, cfg, device)
        return metrics

    return valid_fn


def run_stage(cfg: TrainConfig, exp_dir: str | Path) -> None:
    """Train ``cfg.stage`` into ``exp_dir`` (resuming there) and save the stage dir: the
    trained weights, ``soundwave_config.json`` with provenance, ``history.json``."""
    from soundwave.models.stage_dir import save_stage

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    info = init_distributed()
    torch.manual_seed(cfg.train.seed)
    try:
        model = build_model(cfg)
        if cfg.stage == "shrink":
            check_init_ctc_wer(model.to(device_for(info)), cfg, device_for(info))
        inputs = ctc_inputs if get_stage(cfg.stage).ctc_only else soundwave_inputs
        batches = BatchFactory(cfg.data, cfg.train.seed, info.world_size, info.rank, inputs)
        stop = deaf_reason if cfg.train.stop_if_deaf else None
        hooks = Hooks(make_valid_fn(cfg, device_for(info)), speech_counts, stop)

        def save(model, steps: int) -> None:
            provenance = {
                "stage": cfg.stage,
                "steps": steps,
                "config_hash": config_hash(cfg),
                "config": to_dict(cfg),
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
            }
            save_stage(model, exp_dir, extra=provenance)

        fit_and_save(
            model, batches, exp_dir, cfg.train, cfg.optim, save, info, hooks, resume_hash(cfg)
        )
    finally:
        cleanup(info)

"""Stage presets: which model is built, what trains, what the batches hold, how to validate.

- ``align`` (Stage I): adapter + CTC head, CTC loss only, no LLM forward.
- ``shrink`` (Stage II): shrinking bridge + LoRA (and the adapter/CTC head), LM loss + λ·CTC,
  initialised from the ``align`` output.
- ``sft`` (Stage III): LoRA (and optionally the bridge) on instruction data, initialised
  from the ``shrink`` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from soundwave.decode.decode import GenerationConfig, decode_cuts
from soundwave.errors import UserError
from soundwave.score.metrics import task_score
from soundwave.train.data import DataConfig, load_cuts
from soundwave.train.optim import OptimConfig
from soundwave.train.trainer import LoopConfig

STAGES = ("align", "shrink", "sft")


@dataclass
class TrainConfig:
    stage: str = "align"
    init_from: str | None = None  # the previous stage's output directory
    model: dict[str, Any] = field(
        default_factory=dict
    )  # SoundwaveConfig fields (overrides with init_from)
    train_bridge: bool = True  # sft: also train the bridge (shrink always trains it)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, not '{self.stage}'")


def build_model(cfg: TrainConfig):
    """The model for ``cfg.stage``, initialised from ``cfg.init_from`` when given."""
    from soundwave.models import SoundwaveConfig, SoundwaveModel

    if cfg.init_from:
        model = SoundwaveModel.load_stage(cfg.init_from, overrides=cfg.model or None)
    else:
        if cfg.stage != "align" and not cfg.model.get("encoder_path"):
            # a later stage starts from scratch only when the config builds a whole model
            # (e.g. the linear-projector baseline, which has no Stage I)
            raise UserError(f"stage '{cfg.stage}' needs init_from (the previous stage's directory)")
        try:
            model = SoundwaveModel(SoundwaveConfig(**cfg.model))
        except TypeError as err:
            raise UserError(f"bad model config: {err}") from None
    model.set_stage(cfg.stage, train_bridge=cfg.train_bridge)
    return model


def make_valid_fn(cfg: TrainConfig, device: torch.device):
    """Validation = the task metric on the first ``valid_max_utts`` of each valid source."""
    if not cfg.data.valid:
        return None
    mode = "ctc" if cfg.stage == "align" else "generate"

    def valid_fn(model) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for source in cfg.data.valid:
            cuts = load_cuts(source.cuts)
            for task in source.tasks:
                rs = list(
                    decode_cuts(
                        model,
                        cuts,
                        task,
                        cfg.data,
                        cfg.generation,
                        mode=mode,
                        with_stats=False,
                        max_utts=cfg.data.valid_max_utts,
                        device=device,
                    )
                )
                name = f"ctc_{task}" if mode == "ctc" else task
                metric, value = task_score(name, [r.ref for r in rs], [r.hyp for r in rs])
                metrics[f"{name}_{metric}"] = value
        return metrics

    return valid_fn

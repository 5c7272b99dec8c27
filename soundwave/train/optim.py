"""Optimizer and learning-rate schedules (warm-up + cosine, Noam, constant)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from soundwave.config import require


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    scheduler: str = "cosine"  # cosine | noam | constant
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine floor, as a fraction of lr
    grad_clip: float = 1.0  # max global grad norm; <= 0 disables clipping
    accum_grad: int = 1  # micro-batches per optimizer step

    def __post_init__(self) -> None:
        require(
            self.scheduler in ("cosine", "noam", "constant"),
            "scheduler",
            f"must be cosine, noam or constant, not '{self.scheduler}'",
        )
        require(self.accum_grad >= 1, "accum_grad", f"must be at least 1, not {self.accum_grad}")
        # NaN passes every comparison but ==, so each check asks for finiteness first
        require(
            math.isfinite(self.lr) and self.lr > 0,
            "lr",
            f"must be a positive number, not {self.lr}",
        )
        require(
            math.isfinite(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            f"must be 0 or a positive number, not {self.weight_decay}",
        )
        require(
            len(self.betas) == 2 and all(math.isfinite(b) and 0 <= b < 1 for b in self.betas),
            "betas",
            f"must be two numbers in [0, 1), not {list(self.betas)}",
        )
        require(
            math.isfinite(self.eps) and self.eps > 0,
            "eps",
            f"must be a positive number, not {self.eps}",
        )
        require(
            self.warmup_steps >= 0, "warmup_steps", f"must be 0 or more, not {self.warmup_steps}"
        )
        require(
            0 <= self.min_lr_ratio <= 1,
            "min_lr_ratio",
            f"must be in [0, 1], not {self.min_lr_ratio}",
        )
        require(
            not math.isnan(self.grad_clip),
            "grad_clip",
            "must be a number (<= 0: no clipping), not nan",
        )


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over trainable parameters; no weight decay on biases and norms (1-D tensors)."""
    decay, no_decay = [], []
    for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def lr_factor(step: int, cfg: OptimConfig, total_steps: int) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based)."""
    warmup = max(cfg.warmup_steps, 0)
    if cfg.scheduler == "noam":
        # Noam peaks at ``warmup`` and then decays as 1/sqrt(step), normalised to 1 at the peak.
        s = step + 1
        w = max(warmup, 1)
        return min(s / w, math.sqrt(w / s))
    if step < warmup:
        return (step + 1) / warmup
    if cfg.scheduler == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg, total_steps))

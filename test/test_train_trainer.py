"""The shared trainer on a small regression model: loss, accumulation, NaN guard, resume
(exact, from a damaged checkpoint, across result-neutral changes), file modes, config checks."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
import stat
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from soundwave.errors import UserError
from soundwave.models.stage_dir import save_safetensors
from soundwave.train import checkpoint as ckpt
from soundwave.train import precision as trainer_module
from soundwave.train.optim import OptimConfig, lr_factor
from soundwave.train.precision import autocast_dtype
from soundwave.train.run import resume_hash
from soundwave.train.trainer import Hooks, LoopConfig, Trainer

TRUE_W = torch.tensor([[1.5, -2.0, 0.5]])


class Regression(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)
        self.dropout = nn.Dropout(0.1)  # exercises the RNG state on resume
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)

    def forward(self, x, y):
        pred = self.linear(self.dropout(x))
        return {"loss": ((pred - y) ** 2).mean(), "items": torch.tensor(float(len(x)))}


def batches(batch_size=8, n_batches=6, nan_at=None):
    def make(epoch, skip):
        g = torch.Generator().manual_seed(1000 + epoch)
        out = []
        for i in range(n_batches):
            x = torch.randn(batch_size, 3, generator=g)
            y = x @ TRUE_W.T
            if nan_at is not None and (epoch, i) in nan_at:
                x = x.clone()
                x[0, 0] = float("nan")
            out.append({"x": x, "y": y})
        return out[skip:]

    return make


def train(tmp_path, steps=20, accum=1, batch_size=8, make=None, save_interval=100, seed=0, **loop):
    torch.manual_seed(seed)
    model = Regression()
    trainer = Trainer(
        model,
        make or batches(batch_size),
        tmp_path,
        LoopConfig(
            max_steps=steps, log_interval=5, save_interval=save_interval, progress_bar=False, **loop
        ),
        OptimConfig(lr=0.2, warmup_steps=2, accum_grad=accum, grad_clip=10.0),
    )
    history = trainer.fit()
    return model, trainer, history


def test_loss_falls_and_only_trainable_params_change(tmp_path):
    torch.manual_seed(0)
    frozen_before = Regression().frozen.weight.clone()
    model, _, history = train(tmp_path, steps=40)
    losses = [row["loss"] for row in history if "loss" in row]
    assert losses[-1] < 0.3 * losses[0]
    assert torch.equal(model.frozen.weight, frozen_before)
    assert (tmp_path / "train.log").read_text().count("step ") >= 8
    assert any((tmp_path / "tensorboard").iterdir())


def test_accumulation_equals_bigger_batch(tmp_path):
    # 2 micro-batches of 4 == 1 batch of 8 when the loss is a mean and dropout is off
    def halves(epoch, skip):
        full = batches(8)(epoch, 0)
        out = [{k: v[h * 4 : (h + 1) * 4] for k, v in b.items()} for b in full for h in range(2)]
        return out[skip:]

    torch.manual_seed(0)
    a = Regression().eval()
    a.dropout.p = 0.0
    b = Regression()
    b.load_state_dict(a.state_dict())
    b.dropout.p = 0.0
    loop = dict(max_steps=5, log_interval=5, save_interval=100, progress_bar=False)
    Trainer(
        a, batches(8), tmp_path / "a", LoopConfig(**loop), OptimConfig(lr=0.05, warmup_steps=0)
    ).fit()
    Trainer(
        b,
        halves,
        tmp_path / "b",
        LoopConfig(**loop),
        OptimConfig(lr=0.05, warmup_steps=0, accum_grad=2),
    ).fit()
    assert torch.allclose(a.linear.weight, b.linear.weight, atol=1e-6)


def test_nan_batch_is_skipped_then_training_stops(tmp_path):
    model, trainer, _ = train(tmp_path / "one", steps=10, make=_nan_batches({(0, 1)}))
    assert trainer.bad_steps == 1 and trainer.step == 10
    assert torch.isfinite(model.linear.weight).all()
    every = {(e, i) for e in range(10) for i in range(6)}
    with pytest.raises(UserError, match="diverged"):
        train(tmp_path / "all", steps=10, make=_nan_batches(every), max_bad_steps=3)


def _nan_batches(where):
    return batches(nan_at=where)


def test_exact_resume_in_process(tmp_path):
    full, _, _ = train(tmp_path / "full", steps=9, save_interval=3)
    # run to 9, then delete the last checkpoint as if killed after step 6, and resume
    train(tmp_path / "part", steps=9, save_interval=3)
    last = ckpt.list_checkpoints(tmp_path / "part" / "checkpoints")
    assert [p.name for p in last][-1] == "step-00000009"
    shutil.rmtree(last[-1])  # as if killed between step 6 and 9
    resumed, trainer, _ = train(tmp_path / "part", steps=9, save_interval=3, seed=123)
    assert trainer.step == 9
    assert torch.equal(full.linear.weight, resumed.linear.weight)
    assert torch.equal(full.linear.bias, resumed.linear.bias)


def test_keep_last_and_average(tmp_path):
    _, trainer, _ = train(tmp_path, steps=12, save_interval=2, keep_last=2, average_last=3)
    names = [p.name for p in ckpt.list_checkpoints(tmp_path / "checkpoints")]
    assert names == ["step-00000008", "step-00000010", "step-00000012"]
    avg = trainer.averaged_state()
    parts = [
        ckpt.load_checkpoint(tmp_path / "checkpoints" / n)["model"]["linear.weight"] for n in names
    ]
    assert torch.allclose(avg["linear.weight"], sum(parts) / 3)


def test_lr_schedules():
    cos = OptimConfig(warmup_steps=10, scheduler="cosine", min_lr_ratio=0.1)
    assert lr_factor(0, cos, 110) == pytest.approx(0.1)
    assert lr_factor(9, cos, 110) == pytest.approx(1.0)
    assert lr_factor(60, cos, 110) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(110, cos, 110) == pytest.approx(0.1)
    noam = OptimConfig(warmup_steps=100, scheduler="noam")
    assert lr_factor(99, noam, 1000) == pytest.approx(1.0)
    assert lr_factor(399, noam, 1000) == pytest.approx(math.sqrt(100 / 400))
    const = OptimConfig(warmup_steps=0, scheduler="constant")
    assert lr_factor(500, const, 10) == 1.0


def test_autocast_dtype_on_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert isinstance(trainer_module.cpu_has_native_bf16(), bool)
    assert autocast_dtype("auto", cpu) is None
    assert autocast_dtype("float32", cpu) is None
    assert autocast_dtype("bfloat16", cpu) is torch.bfloat16
    # auto_bf16 takes bf16 only where the CPU computes it natively
    monkeypatch.setattr(trainer_module, "cpu_has_native_bf16", lambda: True)
    assert autocast_dtype("auto_bf16", cpu) is torch.bfloat16
    monkeypatch.setattr(trainer_module, "cpu_has_native_bf16", lambda: False)
    assert autocast_dtype("auto_bf16", cpu) is None
    with pytest.raises(ValueError, match="auto_bf16"):
        LoopConfig(dtype="bf16")


def test_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, caplog):
    full, _, _ = train(tmp_path / "full", steps=9, save_interval=3)
    train(tmp_path / "part", steps=9, save_interval=3)
    newest = ckpt.list_checkpoints(tmp_path / "part" / "checkpoints")[-1]
    optimizer = newest / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])  # truncated, as by a failing disk
    with caplog.at_level("WARNING", logger="soundwave.train"):
        resumed, trainer, _ = train(tmp_path / "part", steps=9, save_interval=3, seed=123)
    assert "damaged file" in caplog.text and "resumed from step-00000006" in caplog.text
    assert trainer.step == 9
    assert torch.equal(full.linear.weight, resumed.linear.weight)
    assert torch.equal(full.linear.bias, resumed.linear.bias)


@dataclass
class RunConfig:
    train: LoopConfig
    optim: OptimConfig


def _run(exp, loop: LoopConfig, optim: OptimConfig, valid_fn=None):
    torch.manual_seed(0)
    model = Regression()
    cfg = RunConfig(loop, optim)
    trainer = Trainer(
        model, batches(), exp, loop, optim, hooks=Hooks(valid_fn), config_hash=resume_hash(cfg)
    )
    trainer.fit()
    return model


def test_resume_may_train_longer_and_log_differently(tmp_path, caplog):
    optim = OptimConfig(lr=0.05, warmup_steps=2, scheduler="constant")
    loop = dict(save_interval=3, progress_bar=False)
    straight = _run(tmp_path / "a", LoopConfig(max_steps=10, log_interval=5, **loop), optim)
    _run(tmp_path / "b", LoopConfig(max_steps=6, log_interval=5, **loop), optim)
    longer = LoopConfig(max_steps=10, log_interval=2, keep_last=5, **{**loop, "progress_bar": True})
    again = _run(tmp_path / "b", longer, optim)
    assert torch.equal(straight.linear.weight, again.linear.weight)
    # what changes the result is still refused
    with pytest.raises(UserError, match="different config"):
        _run(tmp_path / "b", longer, OptimConfig(lr=0.01, warmup_steps=2, scheduler="constant"))
    # with the cosine schedule a longer run changes the remaining steps' learning rates
    cosine = OptimConfig(lr=0.05, warmup_steps=2)
    _run(tmp_path / "c", LoopConfig(max_steps=6, **loop), cosine)
    with caplog.at_level("WARNING", logger="soundwave.train"):
        _run(tmp_path / "c", LoopConfig(max_steps=10, **loop), cosine)
    assert "train.max_steps changed from 6 to 10: the cosine" in caplog.text


def test_validation_leaves_the_training_rng_alone(tmp_path):
    # a validation that draws random numbers (sampling, shuffled subsets, dropout elsewhere)
    # must not change the dropout masks of the training steps after it
    def valid_fn(model):
        return {"noise": float(torch.rand(1)) + random.random() + float(np.random.rand())}

    optim = OptimConfig(lr=0.05, warmup_steps=2)
    common = dict(max_steps=8, save_interval=100, progress_bar=False)
    rare = _run(tmp_path / "a", LoopConfig(valid_interval=0, **common), optim, valid_fn)
    often = _run(tmp_path / "b", LoopConfig(valid_interval=2, **common), optim, valid_fn)
    assert torch.equal(rare.linear.weight, often.linear.weight)


def test_checkpoint_and_stage_weights_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        train(tmp_path / "exp", steps=2, save_interval=1)
        save_safetensors({"w": torch.zeros(2)}, tmp_path / "out" / "trained.safetensors")
    finally:
        os.umask(old)
    files = [*(tmp_path / "exp" / "checkpoints").rglob("*"), tmp_path / "out/trained.safetensors"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) <= {0o644, 0o755}, modes
    assert modes["trainable.safetensors"] == 0o644 and modes["trained.safetensors"] == 0o644


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_steps", 0, "'max_steps' must be at least 1, not 0"),
        ("save_interval", 0, "'save_interval' must be at least 1"),
        ("log_interval", -1, "'log_interval' must be at least 1"),
        ("keep_last", -2, "'keep_last' must be 0 or more"),
    ],
)
def test_loop_counts_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        LoopConfig(**{field: value})


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_and_finite(lr):
    with pytest.raises(ValueError, match="'lr' must be a positive number"):
        OptimConfig(lr=lr)


def test_a_config_field_added_later_at_its_default_keeps_the_resume_hash():
    """A run checkpointed by a version without some config field resumes under a version
    that has it, as long as the field holds its default (the old behaviour)."""

    @dataclass
    class Old:
        train: LoopConfig
        lr: float = 0.1
        tasks: list[str] = dataclasses.field(default_factory=lambda: ["asr"])

    @dataclass
    class New(Old):
        buffer_size: int = 0  # a later version's field

    loop = LoopConfig(max_steps=10)
    assert resume_hash(Old(loop)) == resume_hash(New(loop))
    assert resume_hash(New(loop)) != resume_hash(New(loop, buffer_size=200))
    assert resume_hash(Old(loop)) != resume_hash(Old(loop, tasks=["asr", "qa"]))
    assert resume_hash(Old(loop)) != resume_hash(Old(LoopConfig(max_steps=10, seed=1)))

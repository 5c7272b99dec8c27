"""The shared training loop: one trainer for every stage and recipe.

The model is any ``nn.Module`` whose ``forward(**batch)`` returns a dict with a scalar
``"loss"`` (other scalar entries are logged).  Parameters with ``requires_grad`` are the
ones trained and checkpointed.  The trainer adds: AdamW with warm-up + cosine/Noam,
gradient accumulation and clipping, bf16 autocast on GPUs, DDP (gloo on the CPU, nccl on
GPUs) or FSDP2 (:mod:`soundwave.train.fsdp`), exact resume from the last checkpoint
(weights, optimizer, scheduler, data position, every rank's RNG), keep-last-N, averaging of the last checkpoints, a NaN/inf guard,
tensorboard scalars, a log file, a progress bar and periodic validation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from soundwave.config import require
from soundwave.data.collate import move_to
from soundwave.errors import UserError
from soundwave.train import checkpoint as ckpt
from soundwave.train.distributed import DistInfo, all_ranks_true, barrier, device_for
from soundwave.train.optim import OptimConfig, build_optimizer, build_scheduler
from soundwave.train.precision import DTYPE_CHOICES, autocast_dtype

log = logging.getLogger("soundwave.train")


@dataclass
class LoopConfig:
    max_steps: int = 1000  # optimizer steps
    max_epochs: int = 1000
    log_interval: int = 10
    valid_interval: int = 0  # 0: validate only at the end
    save_interval: int = 200
    keep_last: int = 3
    average_last: int = 1  # average the last N checkpoints for the exported model
    seed: int = 42
    # auto: bf16 (fp16 without bf16) autocast on GPUs, fp32 on CPUs; auto_bf16: also bf16
    # on CPUs that compute it natively (emulated bf16 is slower than fp32) | float32 | ...
    dtype: str = "auto"
    strategy: str = "ddp"  # ddp | fsdp (LLMs of 7B+ on GPUs)
    max_bad_steps: int = 20  # stop after this many skipped (NaN/inf) batches
    progress_bar: bool = True

    def __post_init__(self) -> None:
        require(
            self.dtype in DTYPE_CHOICES,
            "dtype",
            f"must be one of {', '.join(DTYPE_CHOICES)}, not '{self.dtype}'",
        )
        require(
            self.strategy in ("ddp", "fsdp"),
            "strategy",
            f"must be ddp or fsdp, not '{self.strategy}'",
        )
        # a count of 0 would train nothing (max_*) or divide by zero (the intervals)
        for key in ("max_steps", "max_epochs", "log_interval", "save_interval", "average_last"):
            value = getattr(self, key)
            require(value >= 1, key, f"must be at least 1, not {value}")
        for key in ("valid_interval", "keep_last", "max_bad_steps"):
            value = getattr(self, key)
            require(value >= 0, key, f"must be 0 or more, not {value}")


# LoopConfig fields that change when and how long a run trains, or what it reports, but not
# the weights of any step: a run resumes across a change of them (see resume_hash).
RESULT_NEUTRAL = (
    "max_steps",
    "max_epochs",
    "log_interval",
    "valid_interval",
    "save_interval",
    "keep_last",
    "max_bad_steps",
    "progress_bar",
)


# make_batches(epoch, skip) -> this rank's batches of ``epoch`` after skipping ``skip`` of them.
BatchFactory = Callable[[int, int], Iterable[dict[str, Any]]]
ValidFn = Callable[[nn.Module], dict[str, float]]
CountFn = Callable[[dict[str, Any]], dict[str, float]]
StopFn = Callable[[dict[str, float]], str | None]


@dataclass
class Hooks:
    """What a task adds to the loop: validation metrics (run on the main process only),
    per-batch amounts (utterances, audio seconds) logged per second, and a reason to stop
    the run given a validation's metrics (None: train on)."""

    valid_fn: ValidFn | None = None
    count_fn: CountFn | None = None
    stop_fn: StopFn | None = None


def _check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Every per-parameter state tensor (Adam's moments) has its parameter's shape: torch's
    ``load_state_dict`` does not check, and the first step would fail instead."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for name, value in optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.dim() > 0 and value.shape != p.shape:
                    raise ValueError(
                        f"optimizer state {name} has shape {tuple(value.shape)}, "
                        f"its parameter {tuple(p.shape)}"
                    )


class Trainer:
    """Trains ``model`` on the batches ``make_batches`` yields; writes into ``exp_dir``."""

    def __init__(
        self,
        model: nn.Module,
        make_batches: BatchFactory,
        exp_dir: str | Path,
        loop: LoopConfig,
        optim: OptimConfig,
        dist_info: DistInfo | None = None,
        hooks: Hooks | None = None,
        config_hash: str | None = None,
    ):
        self.loop, self.optim_cfg = loop, optim
        self.dist = dist_info or DistInfo()
        self.device = device_for(self.dist)
        self.exp_dir = Path(exp_dir)
        self.ckpt_root = self.exp_dir / "checkpoints"
        self.make_batches = make_batches
        hooks = hooks or Hooks()
        self.valid_fn = hooks.valid_fn if self.dist.is_main else None
        self.validates = hooks.valid_fn is not None  # on every rank (FSDP unshards for it)
        self.stop_fn = hooks.stop_fn
        self.config_hash = config_hash  # checkpoints of another config are not resumed
        self.count_fn = hooks.count_fn
        self._counts: dict[str, float] = {}
        self.model = model.to(self.device)
        if not any(p.requires_grad for p in self.model.parameters()):
            raise UserError("nothing to train: the model has no trainable parameters")
        self.amp_dtype = autocast_dtype(loop.dtype, self.device)
        self.sharded = self.dist.enabled and loop.strategy == "fsdp"
        self.wrapped = self._wrap(self.model)
        self.optimizer = build_optimizer(self.wrapped, optim)
        self.scheduler = build_scheduler(self.optimizer, optim, loop.max_steps)
        self.step = 0
        self.epoch = 0
        self.batches_in_epoch = 0  # this rank's micro-batches consumed in the current epoch
        self.bad_steps = 0
        self.history: list[dict[str, float]] = []
        self._tb = None
        self._log_file: logging.Handler | None = None

    # ---- set-up ----------------------------------------------------------------------
    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        if self.sharded:
            from soundwave.train import fsdp

            return fsdp.shard(model, self.amp_dtype)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=False
        )

    def _setup_logging(self) -> None:
        if not self.dist.is_main:
            return
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.exp_dir / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._log_file = handler
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(self.exp_dir / "tensorboard"), purge_step=self.step or None)

    def _close_logging(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._log_file is not None:
            log.removeHandler(self._log_file)
            self._log_file.close()

    # ---- checkpoints -----------------------------------------------------------------
    def _model_state(self) -> dict[str, torch.Tensor]:
        if self.sharded:
            from soundwave.train import fsdp

            return fsdp.trainable_state(self.wrapped)
        return ckpt.trainable_state(self.model)

    def _optimizer_state(self) -> dict[str, Any]:
        if self.sharded:
            from soundwave.train import fsdp

            return fsdp.optimizer_state(self.wrapped, self.optimizer)
        return self.optimizer.state_dict()

    def save(self) -> None:
        model_state = self._model_state()
        optimizer_state = self._optimizer_state()
        rng = ckpt.all_ranks_rng_state(self.dist)
        if self.dist.is_main:
            state = {
                "step": self.step,
                "epoch": self.epoch,
                "batches_in_epoch": self.batches_in_epoch,
                "bad_steps": self.bad_steps,
                "world_size": self.dist.world_size,
                "config_hash": self.config_hash,
                "max_steps": self.loop.max_steps,  # to warn when a resume changes it
                "history": self.history,
            }
            ckpt.save_checkpoint(
                self.ckpt_root,
                self.step,
                model_state,
                optimizer_state,
                self.scheduler.state_dict(),
                state,
                rng,
            )
            ckpt.prune_checkpoints(self.ckpt_root, max(self.loop.keep_last, self.loop.average_last))
        barrier(self.dist)

    def maybe_resume(self) -> bool:
        """Load the newest usable checkpoint; a damaged one (truncated, overwritten) is
        skipped with a warning for the one before it."""
        damaged: list[ckpt.DamagedCheckpoint] = []
        found = ckpt.list_checkpoints(self.ckpt_root)
        for i, path in reversed(list(enumerate(found))):
            try:
                self._resume_from(path)
            except ckpt.DamagedCheckpoint as err:
                damaged.append(err)
                if i > 0:  # the last one is reported by the error below
                    log.warning("%s; trying the checkpoint before it", err.one_line())
                continue
            if damaged:
                log.warning("resumed from %s: the newer checkpoints are damaged", path.name)
            return True
        if damaged:
            first = damaged[0]
            raise UserError(
                f"{first.message}, and no older checkpoint is usable; remove {self.ckpt_root} "
                "to start over",
                first.path,
            )
        return False

    def _resume_from(self, path: Path) -> None:
        """Check checkpoint ``path`` against this run, then load it (nothing is changed
        before every check passed)."""
        data = ckpt.load_checkpoint(path)
        state = data["state"]
        recorded = state.get("config_hash")
        if self.config_hash and recorded != self.config_hash:
            what = "a different config" if recorded else "another run (no config hash recorded)"
            raise UserError(
                f"holds checkpoints of {what}; remove it (or use another experiment "
                "directory) to start over",
                self.ckpt_root,
            )
        if state.get("world_size", 1) != self.dist.world_size:
            raise UserError(
                f"cannot resume with {self.dist.world_size} processes a run started with "
                f"{state['world_size']}: the data order would change",
                path,
            )
        if state["step"] > self.loop.max_steps:
            raise UserError(
                f"is at step {state['step']}, past train.max_steps={self.loop.max_steps}; raise "
                "train.max_steps (or remove the checkpoints to start over)",
                path,
            )
        problem = ckpt.state_mismatch(self.model, data["model"])
        if problem:
            raise UserError(
                f"does not fit this model ({problem}): a checkpoint of another model or run; "
                "remove it to start over",
                path / "trainable.safetensors",
            )
        snapshot = (self.optimizer.state_dict(), self.scheduler.state_dict())
        try:
            if self.sharded:
                from soundwave.train import fsdp

                # every rank keeps its shard of the full weights and moments
                fsdp.load_state(self.wrapped, self.optimizer, data["model"], data["optimizer"])
            else:
                self.optimizer.load_state_dict(data["optimizer"])
            _check_optimizer_state(self.optimizer)
            self.scheduler.load_state_dict(data["scheduler"])
            ckpt.set_rng_state(ckpt.own_rng_state(data["rng"], self.dist.rank))
        except ckpt.DamagedCheckpoint:
            self.optimizer.load_state_dict(snapshot[0])
            self.scheduler.load_state_dict(snapshot[1])
            raise
        except Exception as err:  # wrong keys or shapes: torch raises several kinds
            self.optimizer.load_state_dict(snapshot[0])
            self.scheduler.load_state_dict(snapshot[1])
            raise ckpt.DamagedCheckpoint(
                f"optimizer, scheduler or RNG state does not fit this run ({ckpt.short_reason(err)})",
                path,
            ) from None
        if not self.sharded:
            ckpt.load_trainable_state(self.model, data["model"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.batches_in_epoch, self.bad_steps = state["batches_in_epoch"], state["bad_steps"]
        self.history = state.get("history", [])
        before = state.get("max_steps")
        if before not in (None, self.loop.max_steps) and self.optim_cfg.scheduler == "cosine":
            log.warning(
                "train.max_steps changed from %s to %d: the cosine learning-rate schedule of the "
                "remaining steps follows the new length (a run of that length from the start "
                "would differ)",
                before,
                self.loop.max_steps,
            )
        log.info("resumed from %s (step %d, epoch %d)", path, self.step, self.epoch)

    def averaged_state(self) -> dict[str, torch.Tensor]:
        """The weights to export: the average of the last ``average_last`` checkpoints."""
        found = ckpt.list_checkpoints(self.ckpt_root)[-max(1, self.loop.average_last) :]
        if self.loop.average_last <= 1 or len(found) <= 1:
            return self._model_state()
        log.info("averaging %d checkpoints: %s", len(found), ", ".join(p.name for p in found))
        return ckpt.average_checkpoints(found)

    def gather_for_saving(self) -> None:
        """FSDP: make the parameters a saver reads full tensors on the main process
        (collective; the model cannot train on afterwards).  Those are the trainable ones
        and what the model's ``saved_parameter_names()`` adds (weights trained in an
        earlier stage)."""
        if not self.sharded:
            return
        from soundwave.train import fsdp

        names = {n for n, p in self.model.named_parameters() if p.requires_grad}
        if hasattr(self.model, "saved_parameter_names"):
            names |= self.model.saved_parameter_names()
        fsdp.gather_parameters(self.model, names, keep=self.dist.is_main)

    # ---- the loop --------------------------------------------------------------------
    def _micro_batches(self) -> Iterator[dict[str, Any]]:
        """This rank's batches, forever (until max_epochs), resuming mid-epoch exactly."""
        while self.epoch < self.loop.max_epochs:
            for batch in self.make_batches(self.epoch, self.batches_in_epoch):
                self.batches_in_epoch += 1
                yield batch
            self.epoch += 1
            self.batches_in_epoch = 0

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        with self._autocast():
            out = self.wrapped(**move_to(batch, self.device))
        if "loss" not in out:
            raise RuntimeError("the model's forward must return a dict with 'loss'")
        return out

    def _sync_context(self, last_micro: bool):
        if self.sharded:
            # gradients are reduce-scattered once, after the last micro-batch
            self.wrapped.set_requires_gradient_sync(last_micro)
        elif self.dist.enabled and not last_micro:
            return self.wrapped.no_sync()
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _whole_model(self) -> Iterator[None]:
        """FSDP: the parameters unsharded on every rank, so the main process can run the
        model alone (validation), under the step's autocast (they are unsharded in its
        dtype); otherwise nothing to do."""
        if not self.sharded:
            yield
            return
        from soundwave.train import fsdp

        with fsdp.unsharded(self.wrapped), self._autocast():
            yield

    def fit(self) -> list[dict[str, float]]:
        """Train until ``max_steps``; returns the logged history (one dict per log line)."""
        torch.manual_seed(self.loop.seed)
        self.maybe_resume()
        self._setup_logging()
        self.wrapped.train()
        accum = self.optim_cfg.accum_grad
        batches = self._micro_batches()
        bar = tqdm(
            total=self.loop.max_steps,
            initial=self.step,
            disable=not (self.dist.is_main and self.loop.progress_bar),
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=2.0,
        )
        stats: dict[str, float] = {}
        window_start, t0 = self.step, time.time()
        try:
            while self.step < self.loop.max_steps:
                step_stats, ok, exhausted = self._one_step(batches, accum)
                if exhausted:
                    break
                if not ok:
                    continue
                self.step += 1
                bar.update(1)
                for k, v in step_stats.items():
                    stats[k] = stats.get(k, 0.0) + v
                if self.step % self.loop.log_interval == 0 or self.step == self.loop.max_steps:
                    n = self.step - window_start
                    row = {k: v / n for k, v in stats.items()}
                    row.update(step=self.step, lr=self.scheduler.get_last_lr()[0])
                    elapsed = time.time() - t0
                    row["sec_per_step"] = elapsed / n
                    row.update({f"{k}_per_sec": v / elapsed for k, v in self._counts.items()})
                    self._log_row(row, bar)
                    stats, window_start, t0, self._counts = {}, self.step, time.time(), {}
                if self.loop.valid_interval and self.step % self.loop.valid_interval == 0:
                    self.validate()
                if self.step % self.loop.save_interval == 0 and self.step < self.loop.max_steps:
                    self.save()
            if not self.loop.valid_interval or self.step % self.loop.valid_interval:
                self.validate()
            self.save()
        finally:
            bar.close()
            self._close_logging()
        return self.history

    def _one_step(
        self, batches: Iterator[dict[str, Any]], accum: int
    ) -> tuple[dict[str, float], bool, bool]:
        """Accumulate ``accum`` micro-batches and take one optimizer step.

        Returns (averaged stats, whether the step was taken, whether the data ran out).
        """
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        finite = True
        for i in range(accum):
            batch = next(batches, None)
            if batch is None:
                return {}, False, True
            if self.count_fn is not None:
                for k, v in self.count_fn(batch).items():
                    self._counts[k] = self._counts.get(k, 0.0) + v
            with self._sync_context(last_micro=i == accum - 1):
                out = self._forward(batch)
                loss = out["loss"]
                finite = finite and bool(torch.isfinite(loss.detach()).item())
                if finite:
                    (loss / accum).backward()
            for k, v in out.items():
                if torch.is_tensor(v) and v.numel() == 1:
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / accum
        grad_norm = float("nan")
        if finite:
            params = [p for p in self.wrapped.parameters() if p.requires_grad]
            clip = self.optim_cfg.grad_clip if self.optim_cfg.grad_clip > 0 else float("inf")
            grad_norm = float(nn.utils.clip_grad_norm_(params, clip))
            finite = math.isfinite(grad_norm)
        if not all_ranks_true(finite, self.dist, self.device):
            self.bad_steps += 1
            log.warning(
                "step %d: non-finite loss or gradient, batch skipped (%d so far)",
                self.step,
                self.bad_steps,
            )
            self.optimizer.zero_grad(set_to_none=True)
            if self.bad_steps > self.loop.max_bad_steps:
                raise UserError(
                    f"training diverged: {self.bad_steps} batches with NaN/inf loss or gradients "
                    "(lower the learning rate or check the data)",
                    self.exp_dir,
                )
            return {}, False, False
        self.optimizer.step()
        self.scheduler.step()
        sums["grad_norm"] = grad_norm
        return sums, True, False

    def _log_row(self, row: dict[str, float], bar: tqdm) -> None:
        self.history.append(row)
        if not self.dist.is_main:
            return
        text = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "step")
        log.info("step %d %s", self.step, text)
        bar.set_postfix_str(f"loss={row.get('loss', float('nan')):.3f}", refresh=False)
        if self._tb is not None:
            for k, v in row.items():
                if k != "step":
                    self._tb.add_scalar(f"train/{k}", v, self.step)

    def validate(self) -> dict[str, float]:
        """Run the validation (main process) and stop the run where ``stop_fn`` says so."""
        metrics = self._validation_metrics()
        if self.stop_fn is not None:
            reason = self.stop_fn(metrics) if self.dist.is_main else None
            # every rank takes the decision of the main one, which alone validates
            if not all_ranks_true(reason is None, self.dist, self.device):
                raise UserError(
                    f"stopped at step {self.step}: {reason or 'the main process stopped'}",
                    self.exp_dir,
                )
        return metrics

    def _validation_metrics(self) -> dict[str, float]:
        if not self.validates:
            return {}
        self.wrapped.eval()
        # validation must not draw from the training's RNGs: how often it runs
        # (valid_interval) then leaves the trained weights alone
        rng = ckpt.rng_state()
        try:
            with torch.no_grad(), self._whole_model():
                metrics = self.valid_fn(self.model) if self.valid_fn is not None else {}
        finally:
            ckpt.set_rng_state(rng)
            self.wrapped.train()
        if self.dist.is_main:
            log.info("step %d validation %s", self.step, json.dumps(metrics))
            self.history.append(
                {"step": self.step, **{f"valid_{k}": v for k, v in metrics.items()}}
            )
            if self._tb is not None:
                for k, v in metrics.items():
                    self._tb.add_scalar(f"valid/{k}", v, self.step)
        return metrics

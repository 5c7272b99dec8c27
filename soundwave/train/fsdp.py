"""FSDP2 (``train.strategy: fsdp``): sharding, full state dicts, unsharded views.

What is sharded: every module whose class the model names in ``fsdp_wrap_modules()`` (the
LLM's decoder layers) is one unit, the rest of the model the root unit.  The parameters of
the modules the model names in ``fsdp_replicated_modules()`` (the frozen Whisper encoder)
are left out (``ignored_params``): a full copy on every rank that never has a gradient and
never enters the optimizer, so its forward needs no all-gather.

Checkpoints hold the trainable weights and the optimizer state in full, gathered on the
main process (``get_*_state_dict(full_state_dict=True)``): the same files, keyed by
parameter name, whatever the number of ranks; what trains (adapter, CTC head, bridge,
LoRA) is small next to the frozen base, which is never checkpointed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)


def shard(model: nn.Module, compute_dtype: torch.dtype | None) -> nn.Module:
    """Apply ``fully_shard`` to the model's units and root; ``compute_dtype`` (bf16 on
    GPUs that have it): parameters are all-gathered and used in it, gradients reduced in
    fp32, the sharded master weights and the optimizer stay in fp32."""
    policy = MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32)
    unit_types = tuple(getattr(model, "fsdp_wrap_modules", tuple)())
    replicated = getattr(model, "fsdp_replicated_modules", list)()
    ignored = {p for module in replicated for p in module.parameters()}
    if any(p.requires_grad for p in ignored):
        raise ValueError("a module FSDP leaves unsharded has trainable parameters")
    for module in model.modules():
        if unit_types and isinstance(module, unit_types):
            fully_shard(module, mp_policy=policy)
    # the root's inputs are batches (log-mel, stored encoder frames): the autocast of the
    # step decides their compute dtype, not a cast at the root
    root_policy = MixedPrecisionPolicy(
        param_dtype=compute_dtype, reduce_dtype=torch.float32, cast_forward_inputs=False
    )
    return fully_shard(model, mp_policy=root_policy, ignored_params=ignored or None)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full trainable weights on the main process (empty elsewhere); collective."""
    return get_model_state_dict(model, options=_FULL)


def optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The full optimizer state keyed by parameter name on the main process; collective."""
    return get_optimizer_state_dict(model, optimizer, options=_FULL)


def load_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    weights: dict[str, torch.Tensor],
    optim_state: dict[str, Any],
) -> None:
    """Load full (unsharded) trainable weights and optimizer state: each rank keeps its
    shard.  Every rank passes the full state; collective."""
    options = StateDictOptions(full_state_dict=True, strict=False)
    set_model_state_dict(model, weights, options=options)
    set_optimizer_state_dict(model, optimizer, optim_state, options=options)


def gather_parameters(model: nn.Module, names: set[str], keep: bool) -> None:
    """Replace the sharded parameters ``names`` by their full tensors (exact: the fp32
    shards, not the compute-dtype copies) where ``keep``; collective, every rank calls it
    with the same names.  The model is for saving afterwards, not for another step."""
    for name, param in list(model.named_parameters()):
        if name not in names or not isinstance(param, DTensor):
            continue
        full = param.full_tensor()
        if keep:
            owner, _, leaf = name.rpartition(".")
            module = model.get_submodule(owner)
            module._parameters[leaf] = nn.Parameter(full.detach(), param.requires_grad)


@contextlib.contextmanager
def unsharded(model: nn.Module) -> Iterator[None]:
    """All parameters gathered on every rank (the model's full size in memory) and kept so
    through any number of forwards: one rank can then run a model alone (validation,
    decoding) while the others wait.  Collective on entry and exit."""
    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for unit in units:
        unit.set_reshard_after_forward(False, recurse=False)
        unit.unshard()
    try:
        yield
    finally:
        for unit in units:
            # the root keeps False, as FSDP sets it for training (its parameters are
            # needed again at once by the backward)
            unit.set_reshard_after_forward(unit is not model, recurse=False)
        # reshards, and forgets the order of the forwards run meanwhile on this rank
        # alone: the next backward would prefetch by it, out of step with the others
        model.reset_iter_state()

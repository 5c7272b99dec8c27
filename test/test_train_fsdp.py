"""FSDP2: what it shards, and on 2 processes (torchrun, gloo, CPU) the stage dir it saves
equals the ones of 1 process and of DDP, and a run resumed from a checkpoint equals the
uninterrupted run."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from pipeline_util import run, train_cmd, weights, write_config

TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")
NO_DROPOUT = ("model.adapter_dropout=0.0", "model.lookback_dropout=0.0", "model.lora_dropout=0.0")


@pytest.fixture(scope="module")
def shrink_config(tiny_pipeline, tmp_path_factory):
    """A Stage II config (LoRA, the LLM's layers sharded) from a short Stage I run."""
    root = tmp_path_factory.mktemp("fsdp")
    align = write_config(root / "align.yaml", tiny_pipeline, "align", train={"max_steps": 3})
    run(train_cmd(align, root / "align"))
    return write_config(
        root / "shrink.yaml",
        tiny_pipeline,
        "shrink",
        init_from=str(root / "align"),
        data={"sampler": "simple", "max_duration": 12, "valid_max_utts": 2},
        optim={"scheduler": "constant", "warmup_steps": 2},
        train={"max_steps": 4, "log_interval": 1},
    )


def fsdp_cmd(config, exp_dir, *overrides):
    return train_cmd(config, exp_dir, "train.strategy=fsdp", *overrides, launcher=(*TORCHRUN, "-m"))


@pytest.mark.slow
def test_stage_dirs_of_one_process_ddp_and_fsdp_are_equal(shrink_config, tmp_path):
    off = "data.valid=[]"
    run(train_cmd(shrink_config, tmp_path / "one", off, *NO_DROPOUT, "optim.accum_grad=2"))
    ddp = train_cmd(shrink_config, tmp_path / "ddp", off, *NO_DROPOUT, launcher=(*TORCHRUN, "-m"))
    run(ddp)
    run(
        fsdp_cmd(
            shrink_config, tmp_path / "fsdp", off, *NO_DROPOUT, "model.gradient_checkpointing=true"
        )
    )
    one = weights(tmp_path / "one")
    assert sum("lora_" in k for k in one) == 16  # q, k, v, o of 2 layers, A and B
    assert {k.split(".")[0] for k in one} == {"adapter", "ctc_head", "bridge", "llm"}
    init = weights(shrink_config.parent / "align")  # what Stage I left
    assert not torch.equal(one["adapter.proj.weight"], init["adapter.proj.weight"])
    for layout in ("ddp", "fsdp"):
        other = weights(tmp_path / layout)
        assert other.keys() == one.keys(), layout
        for name in one:
            # the same sums in another order (2 ranks, reduce-scatter vs all-reduce): float32
            # rounding, far below what a step changes (lr 3e-3)
            assert torch.allclose(one[name], other[name], atol=5e-5, rtol=1e-4), (layout, name)


@pytest.mark.slow
def test_fsdp_resumed_from_a_checkpoint_equals_the_uninterrupted_run(shrink_config, tmp_path):
    # dropout on (each rank draws its own masks), bf16 mixed precision and validation with
    # the model unsharded on rank 0 between the steps: all of it must resume exactly
    opts = ("train.dtype=bfloat16", "train.save_interval=2", "train.valid_interval=2")
    run(fsdp_cmd(shrink_config, tmp_path / "full", *opts))
    # what a run killed after its step-2 checkpoint leaves behind
    step2 = tmp_path / "full" / "checkpoints" / "step-00000002"
    shutil.copytree(step2, tmp_path / "killed" / "checkpoints" / step2.name)
    state = json.loads((step2 / "state.json").read_text())
    assert state["world_size"] == 2
    assert len(torch.load(step2 / "rng.pt", weights_only=True)["other_ranks"]) == 1

    resumed = run(fsdp_cmd(shrink_config, tmp_path / "killed", *opts))
    assert "resumed from" in resumed.stderr
    full, again = weights(tmp_path / "full"), weights(tmp_path / "killed")
    assert full.keys() == again.keys()
    for name in full:
        assert torch.equal(full[name], again[name]), name

    def history(d):
        return json.loads((d / "history.json").read_text())

    assert [r.get("loss") for r in history(tmp_path / "full")] == [
        r.get("loss") for r in history(tmp_path / "killed")
    ]


def test_fsdp_leaves_the_frozen_encoder_whole_and_out_of_the_optimizer(tmp_path):
    """On a 1-process gloo group (fully_shard needs one): the encoder's parameters stay
    plain tensors, the LLM's layers and the audio modules become shards."""
    import torch.distributed as dist
    from models_util import model
    from torch.distributed.tensor import DTensor

    from soundwave.train import fsdp
    from soundwave.train.optim import OptimConfig, build_optimizer
    from soundwave.train.stages import apply_stage

    m = model()
    apply_stage(m, "shrink")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        fsdp.shard(m, None)
        optimized = {
            id(p) for g in build_optimizer(m, OptimConfig()).param_groups for p in g["params"]
        }
        for name, p in m.named_parameters():
            if name.startswith("encoder."):
                assert not isinstance(p, DTensor) and not p.requires_grad, name
                assert id(p) not in optimized
            else:
                assert isinstance(p, DTensor), name
        assert any(id(p) in optimized for n, p in m.named_parameters() if "lora_" in n)
    finally:
        dist.destroy_process_group()

"""Exact resume after SIGKILL, and 2-process DDP (torchrun, gloo) == 1 process."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
import torch
from pipeline_util import ENV, TORCHRUN, run, train_cmd, weights, write_config

pytestmark = pytest.mark.slow


def test_sigkill_then_resume_gives_the_same_weights(tiny_pipeline, tmp_path):
    config = write_config(
        tmp_path / "align.yaml",
        tiny_pipeline,
        "align",
        train={"max_steps": 40, "save_interval": 8, "log_interval": 8},
    )
    run(train_cmd(config, tmp_path / "full"))

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        train_cmd(config, killed), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "step-00000016").is_dir():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "trained.safetensors").exists()

    resumed = run(train_cmd(config, killed))
    assert "resumed from" in resumed.stderr
    full, again = weights(tmp_path / "full"), weights(killed)
    assert full.keys() == again.keys()
    for name in full:
        assert torch.equal(full[name], again[name]), name


def test_resume_refuses_a_changed_config(tiny_pipeline, tmp_path):
    config = write_config(tmp_path / "align.yaml", tiny_pipeline, "align", train={"max_steps": 4})
    run(train_cmd(config, tmp_path / "exp"))
    proc = subprocess.run(
        train_cmd(config, tmp_path / "exp", "optim.lr=0.1"), env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("train: error: ")
    assert "different config" in proc.stderr


def test_torchrun_two_processes_equal_one_process(tiny_pipeline, tmp_path):
    config = write_config(
        tmp_path / "align.yaml",
        tiny_pipeline,
        "align",
        data={"sampler": "simple", "max_duration": 12},
        train={"max_steps": 6},
    )
    no_dropout = "model.adapter_dropout=0.0"  # dropout masks differ between 1 and 2 processes
    run(train_cmd(config, tmp_path / "one", no_dropout, "optim.accum_grad=2"))
    run(train_cmd(config, tmp_path / "two", no_dropout, "optim.accum_grad=1", launcher=TORCHRUN))
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=2e-5, rtol=1e-4), name
    # and the runs really trained: weights moved away from the shared initialisation
    init = weights(tmp_path / "one")["adapter.proj.weight"]
    assert init.abs().sum() > 0


def test_batches_after_a_skip_are_the_batches_of_a_full_pass(tiny_pipeline):
    # regression: the skip used to call iter() on the lhotse sampler twice, which reset it
    from soundwave.data.batches import BatchFactory, DataConfig, DataSource

    cfg = DataConfig(
        train=[DataSource(cuts=str(tiny_pipeline / "cuts_train.jsonl.gz"))], max_duration=20
    )

    def ids(skip, n):
        batches = BatchFactory(cfg, seed=7, inputs=lambda b: b)(0, skip)
        return [b["ids"] for _, b in zip(range(n), batches)]

    assert ids(0, 12)[9:] == ids(9, 3)


def test_making_batches_leaves_the_global_rng_alone(tiny_pipeline):
    # regression: each DataLoader drew its base seed from the global RNG, so a resumed run
    # (which makes a loader after restoring the RNG) got other dropout masks
    from soundwave.data.batches import BatchFactory, DataConfig, DataSource

    cfg = DataConfig(
        train=[DataSource(cuts=str(tiny_pipeline / "cuts_train.jsonl.gz"))], max_duration=20
    )
    factory = BatchFactory(cfg, seed=7)
    before = torch.get_rng_state()
    next(iter(factory(0, 3)))
    assert torch.equal(before, torch.get_rng_state())

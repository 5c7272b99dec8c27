"""soundwave.bin.launch_train: torchrun here, srun + torchrun (c10d) inside a Slurm job.

The Slurm side runs for real in test_recipe_librispeech.py (the loopback cluster); here
the command lines and the one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from jobs_util import REPO

from soundwave.errors import UserError
from soundwave.jobs.launch import torchrun_command


def test_outside_slurm_is_torchrun_standalone():
    cmd = torchrun_command(2, 1, ["--config", "c.yaml", "a=1"], env={})
    assert cmd == [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--standalone",
        "-m", "soundwave.bin.train", "--config", "c.yaml", "a=1",
    ]  # fmt: skip


def test_several_nodes_need_slurm_and_the_allocated_nodes():
    with pytest.raises(UserError, match=r"training on 2 nodes needs a Slurm job"):
        torchrun_command(1, 2, [], env={})
    env = {"SLURM_JOB_ID": "7", "SLURM_JOB_NUM_NODES": "1", "SLURM_JOB_NODELIST": "vm"}
    if subprocess.run(["which", "srun"], capture_output=True).returncode == 0:
        with pytest.raises(
            UserError, match=r"the Slurm job 7 has 1 node\(s\), training asks for 2"
        ):
            torchrun_command(1, 2, [], env=env)
    with pytest.raises(UserError, match=r"at least 1 node and 1 process"):
        torchrun_command(0, 1, [], env={})


def test_launch_train_error_is_one_line(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "soundwave.bin.launch_train", "--nproc-per-node", "1",
         "--nodes", "3", "--", "--config", "x.yaml"],
        cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "launch_train: error: training on 3 nodes needs a Slurm job (cmd_backend=slurm)"
    ], res.stderr


def test_builtin_slurm_config_asks_for_nodes():
    from soundwave.jobs.cluster_config import load_slurm_config

    config = load_slurm_config(None)
    assert config.option_words({"nodes": "2"}) == ["--nodes=2", "--ntasks-per-node=1"]

"""How a multi-process training job starts: torchrun on one machine, srun + torchrun on Slurm.

Outside Slurm: ``torchrun --standalone --nproc-per-node N -m soundwave.bin.train ...``.
Inside a Slurm allocation (the batch step of ``utils/slurm.sh``, which runs on the
allocation's first node): one Slurm task per node, each a torchrun agent with N workers,
meeting through a c10d rendezvous on the first node::

    srun --nodes M --ntasks M --ntasks-per-node 1 python -m torch.distributed.run
        --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HEAD:PORT
        --rdzv-id $SLURM_JOB_ID -m soundwave.bin.train ...

The workers pick gloo on CPUs and nccl on GPUs (:mod:`soundwave.train.distributed`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence

from soundwave.errors import UserError

TRAIN_MODULE = "soundwave.bin.train"


def in_slurm_job(env: Mapping[str, str]) -> bool:
    """Whether this process runs inside a Slurm allocation that srun can use."""
    return "SLURM_JOB_ID" in env and shutil.which("srun") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def head_node(nodelist: str) -> str:
    """The first host of a Slurm node list (``node[01-04]`` -> ``node01``)."""
    res = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=False
    )
    hosts = res.stdout.split()
    if res.returncode != 0 or not hosts:
        raise UserError(f"scontrol cannot expand the node list '{nodelist}': {res.stderr.strip()}")
    return hosts[0]


def torchrun_command(
    nproc_per_node: int,
    nodes: int,
    train_args: Sequence[str],
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> list[str]:
    """The command that runs ``soundwave.bin.train train_args`` on ``nodes`` x
    ``nproc_per_node`` processes (see the module doc)."""
    env = os.environ if env is None else env
    if nproc_per_node < 1 or nodes < 1:
        raise UserError(f"need at least 1 node and 1 process, not {nodes} x {nproc_per_node}")
    torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc_per_node}"]
    train = ["-m", TRAIN_MODULE, *train_args]
    if not in_slurm_job(env):
        if nodes > 1:
            raise UserError(f"training on {nodes} nodes needs a Slurm job (cmd_backend=slurm)")
        return [*torchrun, "--standalone", *train]
    allocated = int(env.get("SLURM_JOB_NUM_NODES", env.get("SLURM_NNODES", "1")))
    if allocated != nodes:
        raise UserError(
            f"the Slurm job {env['SLURM_JOB_ID']} has {allocated} node(s), training asks for "
            f"{nodes} (the job runner's --nodes must be the launcher's)"
        )
    head = head_node(env.get("SLURM_JOB_NODELIST", env.get("SLURM_NODELIST", "")))
    return [
        "srun",
        f"--nodes={nodes}",
        f"--ntasks={nodes}",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        *torchrun,
        f"--nnodes={nodes}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={head}:{port or _free_port()}",
        f"--rdzv-id={env['SLURM_JOB_ID']}",
        *train,
    ]


def launch_training(nproc_per_node: int, nodes: int, train_args: Sequence[str]) -> int:
    """Run the training processes (:func:`torchrun_command`), echo the command; return its
    exit status."""
    cmd = torchrun_command(nproc_per_node, nodes, train_args)
    print("launch_train:", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=False).returncode

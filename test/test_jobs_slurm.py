"""utils/slurm.sh: the same job-array contract on a real (local, single-node) Slurm."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from jobs_util import REPO, UTILS, max_overlap, sh, stamp_command
from slurm_cluster import slurm_cluster  # noqa: F401  (the session fixture)

from soundwave.errors import UserError
from soundwave.jobs.cluster_config import load_slurm_config, parse_cluster_config
from soundwave.jobs.slurm import Submission, sbatch_command
from soundwave.jobs.spec import parse_array

SLURM = UTILS / "slurm.sh"

KALDI_STYLE = """\
command sbatch --export=PATH --ntasks-per-node=1   # comment
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0          # nothing
option num_threads=* --cpus-per-task $0
default gpu=0
option gpu=0 -p shared
option gpu=* -p gpu --gres=gpu:$0 -c $0
"""


# ---- without a cluster ------------------------------------------------------------------


def test_sbatch_command_from_builtin_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    array = parse_array(["JOB=1:4", "exp/log/feats.JOB.log", "true"])
    sub = Submission.for_array(array)
    options = {"mem": "4G", "num_threads": "2", "gpu": "1", "time": "1:00:00", "partition": "p"}
    cmd = sbatch_command(load_slurm_config(None), array, sub, options, max_jobs_run=3)
    assert cmd == [
        "sbatch",
        "--export=ALL",
        "--job-name=feats",
        f"--output={tmp_path}/exp/log/q/feats.%a.log",
        "--mem=4G",
        "--cpus-per-task=2",
        "--gres=gpu:1",
        "--time=1:00:00",
        "--partition=p",
        "--array=1-4%3",
        "--parsable",
        f"{tmp_path}/exp/log/q/feats.sh",
    ]
    assert (
        sbatch_command(load_slurm_config(None), array, sub, {"gpu": "0", "mem": "0"})[4]
        == "--array=1-4"
    )


def test_kaldi_style_config():
    config = parse_cluster_config(KALDI_STYLE, "conf/slurm.conf")
    assert config.command == ["sbatch", "--export=PATH", "--ntasks-per-node=1"]
    assert config.option_words({"mem": "2G"}) == ["-p", "shared", "--mem-per-cpu", "2G"]
    assert config.option_words({"gpu": "2", "mem": "0"}) == ["-p", "gpu", "--gres=gpu:2", "-c", "2"]
    with pytest.raises(UserError, match=r"--partition is not defined in conf/slurm\.conf"):
        config.option_words({"partition": "x"})
    with pytest.raises(UserError, match=r"conf/slurm\.conf:2: cannot parse 'opton x=\* -x'"):
        parse_cluster_config("command sbatch\nopton x=* -x\n", "conf/slurm.conf")


def test_config_errors_and_missing_sbatch_are_one_line(tmp_path):
    (tmp_path / "bad.conf").write_text("command sbatch\noption mem=*\nbogus line\n")
    res = sh([SLURM, "--config", "bad.conf", "JOB=1:2", "log/x.JOB.log", "true"], tmp_path)
    assert res.returncode == 1
    assert (
        res.stderr
        == "run_slurm: error: bad.conf:3: cannot parse 'bogus line' (expected 'command ...', 'option NAME=VALUE ...' or 'default NAME=VALUE')\n"
    )
    # no Slurm on PATH
    res = sh(
        [sys.executable, "-m", "soundwave.bin.run_slurm", "log/x.log", "true"],
        tmp_path,
        env={"PATH": str(tmp_path / "empty"), "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 1
    assert len(res.stderr.splitlines()) == 1
    assert "sbatch not found on PATH" in res.stderr and "cmd_backend=local" in res.stderr


# ---- on the local cluster ---------------------------------------------------------------


@pytest.mark.slurm
def test_array_runs_on_slurm(tmp_path, slurm_cluster):  # noqa: F811
    res = sh(
        [
            SLURM,
            "--mem",
            "100M",
            "JOB=1:4",
            "exp/log/up.JOB.log",
            "echo",
            "part JOB",
            r"|",
            "tr",
            "a-z",
            "A-Z",
        ],
        tmp_path,
        env=slurm_cluster,
    )
    assert res.returncode == 0, res.stderr
    for i in range(1, 5):
        lines = (tmp_path / f"exp/log/up.{i}.log").read_text().splitlines()
        assert lines[0] == f"# echo 'part {i}' | tr a-z A-Z"
        assert f"PART {i}" in lines
        assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[-2])
        assert lines[-1].startswith("# Ended (code 0)")
    script = (tmp_path / "exp/log/q/up.sh").read_text()
    assert "--mem=100M" in script and "--array=1-4 " in script
    assert sorted(p.name for p in (tmp_path / "exp/log/q/up.status").iterdir()) == [
        "1",
        "2",
        "3",
        "4",
    ]


@pytest.mark.slurm
def test_failures_are_reported_like_the_local_runner(tmp_path, slurm_cluster):  # noqa: F811
    res = sh(
        [SLURM, "JOB=1:4", "exp/log/x.JOB.log", "test $((JOB % 2)) = 1"],
        tmp_path,
        env=slurm_cluster,
    )
    assert res.returncode == 1
    assert res.stderr == "run_slurm: 2 / 4 failed, see exp/log/x.2.log exp/log/x.4.log\n"
    assert (
        (tmp_path / "exp/log/x.4.log").read_text().splitlines()[-1].startswith("# Ended (code 1)")
    )


@pytest.mark.slurm
def test_killed_task_without_status_counts_as_failed(tmp_path, slurm_cluster):  # noqa: F811
    # the command kills the task wrapper (its parent is the wrapper's job guard): no exit
    # status is ever written
    res = sh(
        [SLURM, "exp/log/k.log", "kill -9 $(cut -d' ' -f4 /proc/$PPID/stat)"],
        tmp_path,
        env={**slurm_cluster, "SOUNDWAVE_SLURM_GRACE_S": "1"},
    )
    assert res.returncode == 1
    assert res.stderr == "run_slurm: 1 / 1 failed, see exp/log/k.log\n"
    assert list((tmp_path / "exp/log/q/k.status").iterdir()) == []


@pytest.mark.slurm
def test_max_jobs_run_throttles_the_array(tmp_path, slurm_cluster):  # noqa: F811
    (tmp_path / "t").mkdir()
    res = sh(
        [SLURM, "--max-jobs-run", "1", "JOB=1:3", "log/s.JOB.log", stamp_command()],
        tmp_path,
        env=slurm_cluster,
    )
    assert res.returncode == 0, res.stderr
    assert "--array=1-3%1 " in (tmp_path / "log/q/s.sh").read_text()
    assert max_overlap(tmp_path / "t", range(1, 4)) == 1


@pytest.mark.slurm
def test_interrupt_cancels_the_array(tmp_path, slurm_cluster):  # noqa: F811
    env = {**os.environ, **slurm_cluster}
    proc = subprocess.Popen(
        [SLURM, "JOB=1:2", "log/w.JOB.log", "sleep 120"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "log/w.1.log").exists():
        assert time.monotonic() < deadline, "the array did not start"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    err = proc.stderr.read()
    job_id = re.search(r"cancelled job (\d+)", err).group(1)
    while sh(["squeue", "-h", "-j", job_id], tmp_path, env=slurm_cluster).stdout.strip():
        assert time.monotonic() < deadline + 30, "the array is still queued"
        time.sleep(0.2)

"""A run.sh-style stage script using egs/TEMPLATE's path.sh and cmd.sh, on both backends."""

from __future__ import annotations

import os
import shutil

import pytest
from jobs_util import REPO, sh
from slurm_cluster import slurm_cluster  # noqa: F401  (the session fixture)

RUN_SH = """\
#!/usr/bin/env bash
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1
stop_stage=100
nj=4
help_message="Usage: $0 [--stage N] [--stop-stage N] [--nj N]"
. utils/parse_options.sh

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  echo "stage 1: squares"
  mkdir -p exp/parts
  # the job needs path.sh's environment: soundwave importable, C locale
  $train_cmd JOB=1:$nj exp/log/square.JOB.log \\
    python -c "import sys, soundwave; print(int(sys.argv[1]) ** 2)" JOB \\| \\
    sed "s/\\$/ $LC_ALL/" \\> exp/parts/square.JOB.txt
fi
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  echo "stage 2: collect"
  cat exp/parts/square.*.txt | sort -n > exp/squares.txt
fi
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  echo "stage 3: done"
  touch exp/stage3.done
fi
"""


def make_recipe(tmp_path):
    """egs/demo/asr with the layout egs/TEMPLATE/README.md describes."""
    recipe = tmp_path / "egs" / "demo" / "asr"
    recipe.mkdir(parents=True)
    (recipe / "utils").symlink_to(REPO / "utils")
    (recipe / "path.sh").symlink_to(REPO / "egs" / "TEMPLATE" / "path.sh")
    shutil.copy(REPO / "egs" / "TEMPLATE" / "cmd.sh", recipe / "cmd.sh")
    (recipe / "run.sh").write_text(RUN_SH)
    (recipe / "run.sh").chmod(0o755)
    return recipe


def run_stages(recipe, env):
    env = {k: v for k, v in env.items() if k != "SOUNDWAVE_ROOT"}
    res = sh(["./run.sh", "--stop-stage", "2", "--nj", "4"], recipe, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines() == ["stage 1: squares", "stage 2: collect"]
    assert (recipe / "exp/squares.txt").read_text() == "1 C\n4 C\n9 C\n16 C\n"
    assert not (recipe / "exp/stage3.done").exists()
    for i in range(1, 5):
        assert "# Ended (code 0)" in (recipe / f"exp/log/square.{i}.log").read_text()
    res = sh(["./run.sh", "--stage", "3", "--stop_stage", "3"], recipe, env=env)
    assert res.stdout.splitlines() == ["stage 3: done"]
    assert (recipe / "exp/stage3.done").exists()


def test_stage_script_runs_jobs_locally(tmp_path):
    recipe = make_recipe(tmp_path)
    run_stages(recipe, {"cmd_backend": "local"})
    assert not (recipe / "exp/log/q").exists()


def test_stage_script_option_errors(tmp_path):
    recipe = make_recipe(tmp_path)
    res = sh(["./run.sh", "--stgae", "3"], recipe)
    assert res.returncode == 1 and "unknown option --stgae" in res.stderr
    res = sh(["./run.sh", "--help"], recipe)
    assert res.returncode == 0 and res.stdout.startswith("Usage: ./run.sh [--stage N]")
    res = sh(["./run.sh"], recipe, env={"cmd_backend": "pbs"})
    assert res.returncode == 1 and "unknown cmd_backend 'pbs'" in res.stderr


def test_path_sh_environment(tmp_path):
    recipe = make_recipe(tmp_path)
    script = ". ./path.sh; echo $SOUNDWAVE_ROOT; command -v python; command -v run_local.sh; echo $LC_ALL"
    env = {k: v for k, v in os.environ.items() if k not in ("SOUNDWAVE_ROOT", "VIRTUAL_ENV")}
    res = sh(["bash", "-c", script], recipe, env=env)
    root, python, tool, lc = res.stdout.split()
    assert root == str(REPO) and tool == str(REPO / "utils" / "run_local.sh") and lc == "C"
    if (REPO / ".venv" / "bin" / "python").exists():
        assert python == str(REPO / ".venv" / "bin" / "python")


@pytest.mark.slurm
def test_stage_script_runs_jobs_on_slurm(tmp_path, slurm_cluster):  # noqa: F811
    recipe = make_recipe(tmp_path)
    run_stages(recipe, {"cmd_backend": "slurm", **slurm_cluster})
    script = (recipe / "exp/log/q/square.sh").read_text()
    assert "--mem=4G" in script and "--array=1-4 " in script


@pytest.mark.parametrize("recipe", sorted(p.parent for p in (REPO / "egs").glob("*/*/run.sh")))
def test_recipes_link_the_shared_scripts(recipe):
    """Recipes share egs/TEMPLATE's scripts and utils/ through relative symlinks (as in
    ESPnet); a checkout that turned them into text files broke ./run.sh at its first line."""
    for name in ("cmd.sh", "path.sh", "soundwave.sh", "utils"):
        link = recipe / name
        assert link.is_symlink(), f"{link} is not a symlink"
        assert link.resolve().exists(), f"{link} points nowhere"
    assert (recipe / "utils" / "parse_options.sh").is_file()


def recording_recipe(tmp_path):
    """A recipe whose job runners record their command lines instead of running them."""
    recipe = make_recipe(tmp_path)
    (recipe / "soundwave.sh").symlink_to(REPO / "egs" / "TEMPLATE" / "soundwave.sh")
    # every job runner records its command line instead of running it
    (recipe / "record.sh").write_text('#!/bin/sh\necho "$@" >> calls.txt\n')
    (recipe / "record.sh").chmod(0o755)
    (recipe / "cmd.sh").write_text(
        "export train_cmd=./record.sh decode_cmd=./record.sh cuda_cmd=./record.sh\n"
    )
    return recipe


def test_stage_script_per_stage_train_args(tmp_path):
    """--train-args reach stages 3-5, --align/--shrink/--sft-args only their own stage, after
    --train-args (a later key=value override wins)."""
    recipe = recording_recipe(tmp_path)
    args = ["--train-args", "a=1 b=2", "--shrink-args", "b=3", "--sft-args", "c=4"]
    res = sh(["./soundwave.sh", "--stage", "3", "--stop-stage", "5", *args], recipe)
    assert res.returncode == 0, res.stdout + res.stderr
    calls = (recipe / "calls.txt").read_text().splitlines()
    assert [c.split("--exp-dir ")[1] for c in calls] == [
        "exp/soundwave/align a=1 b=2",
        "exp/soundwave/shrink init_from=exp/soundwave/align a=1 b=2 b=3",
        "exp/soundwave/sft init_from=exp/soundwave/shrink a=1 b=2 c=4",
    ]


def test_stage_script_shrink_init(tmp_path):
    """Stage II starts from exp/<tag>/align, from --shrink-init DIR, or (none) from nothing:
    a bridge without Stage I whose config builds the whole model."""
    recipe = recording_recipe(tmp_path)
    for init in ("exp/main/align", "none"):
        res = sh(
            ["./soundwave.sh", "--stage", "4", "--stop-stage", "4", "--shrink-init", init], recipe
        )
        assert res.returncode == 0, res.stdout + res.stderr
    calls = (recipe / "calls.txt").read_text().splitlines()
    assert [c.split("--exp-dir ")[1] for c in calls] == [
        "exp/soundwave/shrink init_from=exp/main/align",
        "exp/soundwave/shrink",
    ]


@pytest.mark.parametrize("init", ["exp/asr/align", "none"])
def test_stage_script_shrink_init_skips_stage_one(tmp_path, init):
    """A Stage II that does not start from this run's Stage I (a corpus without transcripts,
    another recipe's alignment) skips stage 3, which would train an adapter nobody uses."""
    recipe = recording_recipe(tmp_path)
    res = sh(["./soundwave.sh", "--stage", "3", "--stop-stage", "4", "--shrink-init", init], recipe)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"stage 3: skipped (--shrink-init {init}" in res.stdout
    calls = (recipe / "calls.txt").read_text().splitlines()
    assert [c.split("--exp-dir ")[1] for c in calls] == [
        "exp/soundwave/shrink" + ("" if init == "none" else f" init_from={init}")
    ]


def test_stage_script_multi_process_training(tmp_path):
    """--ngpu/--train-procs N and --train-nodes M start the training through the launcher
    (torchrun, or srun + torchrun in a Slurm job), and a job of M nodes asks the runner for
    them; one process stays plain python (the command line of before)."""
    recipe = recording_recipe(tmp_path)
    for args in (["--ngpu", "1"], ["--ngpu", "2"], ["--train-procs", "2", "--train-nodes", "2"]):
        res = sh(["./soundwave.sh", "--stage", "3", "--stop-stage", "3", *args], recipe)
        assert res.returncode == 0, res.stdout + res.stderr
    calls = [c.split(" --config ")[0] for c in (recipe / "calls.txt").read_text().splitlines()]
    assert calls == [
        "--gpu 1 exp/soundwave/align/log/train.log python -m soundwave.bin.train",
        "--gpu 2 exp/soundwave/align/log/train.log python -m soundwave.bin.launch_train "
        "--nproc-per-node 2 --nodes 1 --",
        "--gpu 0 --nodes 2 exp/soundwave/align/log/train.log python -m soundwave.bin.launch_train "
        "--nproc-per-node 2 --nodes 2 --",
    ]

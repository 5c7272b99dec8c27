"""SIGKILL at a random point, then the same command again: the result of an undisturbed run.

Covers what test_pipeline_resume.py (one-process Stage I), test_bad_inputs_data.py
(feature extraction), test_encoder_cache.py (encoder caching) and test_shar.py (export)
do not: a 2-process DDP run killed as a whole, Stage II killed mid-run, and decoding
killed before it wrote its outputs.  The kill point is drawn from a seeded RNG (printed on
failure), after the first checkpoint so that a resume has something to resume from.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pipeline_util import ENV, TORCHRUN, run, train_cmd, weights, write_config

pytestmark = pytest.mark.slow


def kill_when(cmd: list[str], ready, delay: float, timeout: float = 300.0) -> None:
    """Start ``cmd`` in its own process group; once ``ready()`` holds, wait ``delay``
    seconds and SIGKILL the whole group (torchrun and its workers alike)."""
    proc = subprocess.Popen(
        cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "the command ended before it could be killed"
        assert time.time() < deadline, "never ready"
        time.sleep(0.02)
    time.sleep(delay)
    assert proc.poll() is None, f"the command ended before the kill ({delay=:.2f} s)"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def checkpoint_exists(exp_dir: Path, step: int):
    return lambda: (exp_dir / "checkpoints" / f"step-{step:08d}").is_dir()


def outputs(out_dir: Path) -> list[Path]:
    """The files of a decoding dir, less atomic writes' hidden temporaries."""
    if not out_dir.exists():
        return []
    return [
        p for p in out_dir.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp"))
    ]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_sigkill_of_a_two_process_ddp_run_then_rerun_gives_the_same_weights(
    tiny_pipeline, tmp_path
):
    config = write_config(
        tmp_path / "align.yaml",
        tiny_pipeline,
        "align",
        data={"sampler": "simple", "max_duration": 12},
        train={"max_steps": 40, "save_interval": 8, "log_interval": 8},
    )  # dropout on: every rank's RNG state must come back
    run(train_cmd(config, tmp_path / "full", launcher=TORCHRUN))
    delay = random.Random(19).uniform(0.0, 0.5)
    killed = tmp_path / "killed"
    kill_when(train_cmd(config, killed, launcher=TORCHRUN), checkpoint_exists(killed, 8), delay)
    assert not (killed / "trained.safetensors").exists(), f"finished before the kill ({delay=})"
    resumed = run(train_cmd(config, killed, launcher=TORCHRUN))
    assert "resumed from" in resumed.stderr
    assert_same_weights(tmp_path / "full", killed)


@pytest.fixture(scope="module")
def stage_one(tiny_pipeline, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    config = write_config(root / "align.yaml", tiny_pipeline, "align", train={"max_steps": 6})
    run(train_cmd(config, root / "align"))
    return root / "align"


def shrink_config(path: Path, tiny_pipeline: Path, init: Path) -> Path:
    return write_config(
        path,
        tiny_pipeline,
        "shrink",
        init_from=str(init),
        train={"max_steps": 30, "save_interval": 6, "log_interval": 6},
    )


def test_sigkill_of_stage_two_then_rerun_gives_the_same_weights(tiny_pipeline, stage_one, tmp_path):
    config = shrink_config(tmp_path / "shrink.yaml", tiny_pipeline, stage_one)
    run(train_cmd(config, tmp_path / "full"))
    delay = random.Random(20).uniform(0.0, 0.5)
    killed = tmp_path / "killed"
    kill_when(train_cmd(config, killed), checkpoint_exists(killed, 6), delay)
    assert not (killed / "trained.safetensors").exists(), f"finished before the kill ({delay=})"
    run(train_cmd(config, killed))
    assert_same_weights(tmp_path / "full", killed)


def test_sigkill_of_decoding_then_rerun_gives_the_same_hypotheses(
    tiny_pipeline, stage_one, tmp_path
):
    config = shrink_config(tmp_path / "shrink.yaml", tiny_pipeline, stage_one)
    model = tmp_path / "shrink"
    run(train_cmd(config, model, "train.max_steps=4"))

    def decode(out: Path) -> list[str]:
        return [
            sys.executable, "-m", "soundwave.bin.decode", "--model-dir", str(model),
            "--cuts", str(tiny_pipeline / "cuts_dev.jsonl.gz"), "--tasks", "asr",
            "--out-dir", str(out), "generation.max_new_tokens=8",
        ]  # fmt: skip

    start = time.time()
    run(decode(tmp_path / "full"))
    took = time.time() - start
    expected = sorted(p.name for p in outputs(tmp_path / "full"))
    killed = tmp_path / "killed"
    delay = random.Random(21).uniform(0.2, 0.9) * took  # anywhere from imports to writing
    kill_when(decode(killed), lambda: True, delay)
    # nothing half-written: every output that exists is whole (written atomically; a kill
    # inside a write can only leave a hidden temporary, which no reader takes for output)
    for path in outputs(killed):
        if path.name in expected:
            assert path.read_bytes() == (tmp_path / "full" / path.name).read_bytes() or (
                path.name == "decode.json"
            ), f"{path.name} differs after the kill ({delay=})"
    run(decode(killed))
    for name in ("hyp.txt", "ref.txt", "shrink_stats.txt"):
        assert (killed / name).read_text() == (tmp_path / "full" / name).read_text(), name
    assert sorted(p.name for p in outputs(killed)) == expected

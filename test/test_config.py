"""YAML configs: overrides, type checks, unknown keys reported in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from soundwave.config import config_hash, load_config
from soundwave.errors import UserError
from soundwave.train.stages import TrainConfig


def write(tmp_path, text):
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides(tmp_path):
    path = write(
        tmp_path,
        "stage: shrink\ninit_from: exp/a\noptim: {lr: 1e-4}\ndata:\n  train:\n    - {cuts: a.jsonl.gz, tasks: [asr, st_en_de]}\n",
    )
    cfg = load_config(
        TrainConfig, path, ["optim.lr=3e-4", "train.max_steps=7", "data.max_duration=50"]
    )
    assert cfg.stage == "shrink" and cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.train.max_steps == 7 and cfg.data.max_duration == 50.0
    assert cfg.data.train[0].tasks == ["asr", "st_en_de"]
    assert config_hash(cfg) != config_hash(load_config(TrainConfig, path))


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        ("stage: align\noptim: {lrr: 1}\n", [], "unknown config key 'optim.lrr'"),
        ("stage: align\n", ["train.max_steps=many"], "'train.max_steps' must be of type int"),
        ("stage: fly\n", [], "stage must be one of align, shrink, sft"),
        ("stage: [align\n", [], "invalid YAML"),
        ("stage: align\n", ["optim.lr"], "not of the form key=value"),
    ],
)
def test_bad_configs(tmp_path, text, overrides, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_config(TrainConfig, path, overrides)


def test_cli_reports_one_line(tmp_path):
    path = write(tmp_path, "stage: align\nbogus: 1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundwave.bin.train",
            "--config",
            str(path),
            "--exp-dir",
            str(tmp_path / "e"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"train: error: {path}: unknown config key 'bogus' (known: ")
    assert not (tmp_path / "e").exists()

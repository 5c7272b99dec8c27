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


def test_a_config_starts_from_its_base(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "main.yaml").write_text(
        "stage: shrink\noptim: {lr: 1e-3, warmup_steps: 50}\n"
        "data:\n  max_duration: 80\n  train:\n    - {cuts: a.jsonl.gz, tasks: [asr, st_en_de]}\n"
    )
    variant = tmp_path / "conf" / "variant.yaml"
    variant.write_text(
        "base: ../main.yaml\noptim: {lr: 2e-3}\n"
        "data:\n  train:\n    - {cuts: a.jsonl.gz, tasks: [asr]}\n"
    )
    cfg = load_config(TrainConfig, variant, ["optim.warmup_steps=5"])
    assert cfg.stage == "shrink"
    assert cfg.optim.lr == pytest.approx(2e-3) and cfg.optim.warmup_steps == 5  # merged
    assert cfg.data.max_duration == 80.0  # kept from the base
    assert [s.tasks for s in cfg.data.train] == [["asr"]]  # a list replaces, not appends
    twice = tmp_path / "twice.yaml"
    twice.write_text("base: conf/variant.yaml\ntrain: {max_steps: 3}\n")
    cfg2 = load_config(TrainConfig, twice)
    assert cfg2.train.max_steps == 3 and cfg2.optim.lr == pytest.approx(2e-3)


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a.yaml": "base: missing.yaml\n"}, "missing.yaml: config file not found"),
        ({"a.yaml": "base: a.yaml\n"}, "includes itself"),
        ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"}, "includes itself"),
        ({"a.yaml": "base: [b.yaml]\n"}, "must be the path of another config"),
    ],
)
def test_bad_bases(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=message):
        load_config(TrainConfig, tmp_path / "a.yaml")


def test_an_error_names_the_override_that_set_the_key_not_the_file(tmp_path):
    path = write(tmp_path, "train: {max_steps: 10}\n")
    with pytest.raises(UserError) as err:
        load_config(TrainConfig, path, ["train.max_steps=-5"])
    assert err.value.path == "command-line override 'train.max_steps=-5'"
    assert "'train.max_steps' must be at least 1, not -5" in err.value.message
    # the same value in the file is the file's error
    with pytest.raises(UserError) as err:
        load_config(TrainConfig, write(tmp_path, "train: {max_steps: -5}\n"))
    assert err.value.path == str(path)


def test_yaml_true_is_not_a_count_and_typos_get_a_suggestion(tmp_path):
    with pytest.raises(UserError, match="must be of type int, got True"):
        load_config(TrainConfig, None, ["train.max_steps=true"])
    with pytest.raises(UserError, match=r"did you mean 'train.save_interval'\?") as err:
        load_config(TrainConfig, write(tmp_path, "{}\n"), ["train.save_intervall=5"])
    assert err.value.path == "command-line override 'train.save_intervall=5'"

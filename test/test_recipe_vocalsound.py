"""egs/vocalsound/cls1 from stage 0 to RESULTS.md on a fake VocalSound release (the public
layout, synthesized clips) with tiny random models and a few steps per stage."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from fake_vocalsound import write_fake_vocalsound
from jobs_util import REPO, sh

RECIPE = REPO / "egs" / "vocalsound" / "cls1"
TINY = (
    "model.encoder_dtype=float32 model.llm_dtype=float32 model.lora_rank=4 "
    "model.gradient_checkpointing=false data.max_duration=10 data.num_buckets=2 "
    "data.spec_augment=false train.max_steps=3 train.log_interval=1 train.valid_interval=3 "
    "train.save_interval=3 train.hearing_check=4 train.stop_if_deaf=false data.valid_max_utts=6"
)


def copy_recipe(dest):
    """The recipe as a user has it: its own files, the shared ones linked."""
    dest.mkdir(parents=True)
    for name in ("run.sh", "local", "conf"):
        (shutil.copytree if (RECIPE / name).is_dir() else shutil.copy)(RECIPE / name, dest / name)
    for name in ("soundwave.sh", "cmd.sh", "path.sh", "utils"):
        (dest / name).symlink_to((RECIPE / name).resolve())
    return dest


@pytest.mark.slow
def test_vocalsound_recipe_stage0_to_results(tmp_path):
    corpus = write_fake_vocalsound(tmp_path / "vs_release_16k")
    recipe = copy_recipe(tmp_path / "cls1")
    res = sh(["./run.sh", "--vocalsound", corpus, "--stop-stage", "0"], recipe)
    assert res.returncode == 0, res.stdout + res.stderr
    test = recipe / "data" / "test"
    labels = dict(line.split() for line in (test / "utt2sound_event").read_text().splitlines())
    assert len(labels) == 12 and labels["m0201_0_throatclearing"] == "throatclearing"
    assert (test / "spk2gender").read_text() == "f0202 f\nm0201 m\n"
    assert not (test / "text").exists()

    models = tmp_path / "models"
    subprocess.run(
        [sys.executable, "-m", "soundwave.bin.make_tiny_models", "--out", models,
         "--text", recipe / "data/train/utt2sound_event"],
        check=True, capture_output=True,
    )  # fmt: skip
    paths = f"model.encoder_path={models}/whisper model.llm_path={models}/llm"
    res = sh(
        ["./run.sh", "--vocalsound", corpus, "--stage", "1", "--nj", "1", "--ngpu", "0",
         "--test-sets", "test", "--decode-stages", "sft", "--train-args", f"{paths} {TINY}"],
        recipe, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "stage 3: skipped (--shrink-init none" in res.stdout
    exp = recipe / "exp" / "vocalsound"
    assert not (exp / "align").exists() and (exp / "sft" / "trained.safetensors").is_file()
    results = (exp / "RESULTS.md").read_text()
    for table in ("sound_event: accuracy", "sound_event: macro-F1", "gender: accuracy"):
        assert f"## {table} %" in results, table
    # six classes, two clips each in test: the best constant answer is right 1 time in 6
    assert "| chance | constant answer | - | 16.67 |" in results
    assert "| vocalsound | sft | dev | sound_event |" in results.split("## Hearing check")[1]

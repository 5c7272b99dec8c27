"""egs/librispeech/asr1 from stage 0 to RESULTS.md on a fake LibriSpeech with tiny models.

The corpus is laid out exactly as the openslr.org/12 tarballs unpack (test/fake_librispeech.py:
FLAC, ``*.trans.txt``, SPEAKERS.TXT); the recipe's own configs (the paper's setting) run
with tiny models (``soundwave.bin.make_tiny_models``) in float32 and a few steps per
stage, the overrides below.  Once with the local job runner, once on the loopback Slurm
(test/slurm_cluster.py): fbank and decoding as array jobs, every training stage as srun +
torchrun (c10d rendezvous) over 2 processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_librispeech import write_fake_librispeech
from jobs_util import copy_recipe
from slurm_cluster import slurm_cluster  # noqa: F401  (the session fixture)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs" / "librispeech" / "asr1"
TEST_SETS = ("test_clean", "test_other")
STAGES = ("align", "shrink", "sft")
TRAIN_PARTS = ("train-clean-100", "train-other-500")
# the paper's configs at the size of the tiny models, a few steps each
TRAIN_ARGS = (
    "train.max_steps=2 train.strategy=ddp train.dtype=float32 train.log_interval=1 "
    "train.valid_interval=0 train.save_interval=100 train.progress_bar=false "
    "train.hearing_check=0 data.max_duration=20 data.num_buckets=2 data.num_workers=0 "
    "data.valid_max_utts=2 optim.warmup_steps=1 generation.max_new_tokens=6"
)
ALIGN_ARGS = (
    "model.encoder_dtype=float32 model.llm_dtype=float32 model.gradient_checkpointing=false "
    "model.lora_rank=4 model.lora_alpha=8"
)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


@pytest.fixture(scope="module")
def corpus_and_models(tmp_path_factory):
    """The fake corpus and tiny models whose tokenizer learnt its transcripts."""
    root = tmp_path_factory.mktemp("librispeech")
    corpus = write_fake_librispeech(root, utts_per_subset=6)
    transcripts = sorted(str(p) for p in corpus.glob("*/*/*/*.trans.txt"))  # Kaldi text format
    res = subprocess.run(
        [sys.executable, "-m", "soundwave.bin.make_tiny_models", "--out", str(root / "models"),
         "--text", *transcripts],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return corpus, root / "models"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SOUNDWAVE_ROOT": str(REPO), "PYTHONPATH": str(REPO), **extra}


def run_recipe(recipe: Path, corpus: Path, models: Path, env: dict[str, str], *extra: str):
    args = [
        "./run.sh", "--corpus", str(corpus),
        "--train-parts", " ".join(TRAIN_PARTS), "--test-sets", " ".join(TEST_SETS),
        "--encoder-path", str(models / "whisper"), "--llm-path", str(models / "llm"),
        "--train-args", TRAIN_ARGS, "--align-args", ALIGN_ARGS,
        "--decode-args", "generation.max_new_tokens=6", *extra,
    ]  # fmt: skip
    proc = subprocess.run(args, cwd=recipe, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.mark.parametrize("setting", ["", "1gpu"])
def test_configs_load_and_keep_the_paper_setting(setting):
    """Every stage config loads (its keys are checked); both settings train the paper's
    model (LoRA r=64 alpha=16, CTC 0.3, bf16, ~4k SFT steps); the one-GPU one changes only
    the LLM, the strategy and what fits one GPU."""
    from soundwave.config import load_config
    from soundwave.decode.decode import DecodeConfig
    from soundwave.train.stages import TrainConfig

    conf = RECIPE / "conf" / setting
    align, shrink, sft = (load_config(TrainConfig, conf / f"{s}.yaml") for s in STAGES)
    model = align.model
    assert (model["lora_rank"], model["lora_alpha"], model["ctc_weight"]) == (64, 16, 0.3)
    assert model["encoder_path"].endswith("whisper-large-v2")
    assert sft.train.max_steps == 4000
    for cfg in (align, shrink, sft):
        assert cfg.train.dtype == "bfloat16"
        assert cfg.train.strategy == ("ddp" if setting else "fsdp")
        assert cfg.data.train[0].cuts == "data/fbank/cuts_train.jsonl.gz"
    assert load_config(DecodeConfig, conf / "decode.yaml").generation.num_beams == 1
    if setting:
        paper = load_config(TrainConfig, RECIPE / "conf" / "align.yaml").model
        changed = {k for k in model if model[k] != paper.get(k)}
        assert changed == {"llm_path", "gradient_checkpointing"}


def test_speaker_list_errors_name_the_line(tmp_path):
    from soundwave.data.librispeech import read_speakers
    from soundwave.errors import UserError

    path = tmp_path / "SPEAKERS.TXT"
    path.write_text(
        ";ID  |SEX| SUBSET |MINUTES| NAME\n14   | F | dev-clean | 1.0 | A\n15 | X | x\n"
    )
    with pytest.raises(UserError, match=r"SPEAKERS.TXT:3: expected 'ID \| SEX"):
        read_speakers(path)
    path.write_text(";ID  |SEX| SUBSET |MINUTES| NAME\n14   | F | dev-clean | 1.0 | A\n")
    assert read_speakers(path) == {"14": "f"}


def test_prepare_errors_are_one_line(tmp_path):
    corpus = write_fake_librispeech(tmp_path, subsets=("dev-clean",), utts_per_subset=2)

    def prepare(*subsets: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "soundwave.bin.prepare_librispeech", "--corpus-dir",
             str(corpus), "--data-dir", str(tmp_path / "data"), *subsets],
            capture_output=True, text=True, env=_env(), timeout=120,
        )  # fmt: skip

    for subset, message in (
        ("dev-cleen", "unknown LibriSpeech subset 'dev-cleen'"),
        ("test-clean", f"{corpus.resolve()}: no subset 'test-clean' here"),
    ):
        res = prepare(subset)
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert message in res.stderr
    (corpus / "SPEAKERS.TXT").write_text(";ID |SEX| SUBSET\n999 | M | dev-clean\n")
    res = prepare("dev-clean")  # (lhotse's progress bars come first)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.splitlines()[-1] == (
        f"prepare_librispeech: error: {corpus.resolve()}/SPEAKERS.TXT: "
        "speaker 100 (utterance 100-5000-0000) is not listed"
    )
    assert not (tmp_path / "data").exists()


def check_data_dirs(recipe: Path, corpus: Path) -> None:
    """Stage 0: one data dir per subset (C-sorted, ids prefixed by the speaker, FLAC paths,
    the transcripts as LibriSpeech has them, gender from SPEAKERS.TXT), train and dev combined."""
    data = recipe / "data"
    for subset in (*TRAIN_PARTS, "dev-clean", "dev-other", "test-clean", "test-other"):
        d = data / subset.replace("-", "_")
        utt2spk = [line.split() for line in (d / "utt2spk").read_text().splitlines()]
        assert len(utt2spk) == 6 and [u for u, _ in utt2spk] == sorted(u for u, _ in utt2spk)
        assert all(utt.startswith(f"{spk}-") for utt, spk in utt2spk)
        for line in (d / "wav.scp").read_text().splitlines():
            utt, path = line.split()
            assert path == str(
                corpus / subset / utt.split("-")[0] / utt.split("-")[1] / f"{utt}.flac"
            )
        expected = {}
        for trans in (corpus / subset).glob("*/*/*.trans.txt"):
            expected.update(line.split(" ", 1) for line in trans.read_text().splitlines())
        text = dict(line.split(" ", 1) for line in (d / "text").read_text().splitlines())
        assert text == expected
        genders = dict(line.split() for line in (d / "spk2gender").read_text().splitlines())
        assert sorted(genders.values()) == ["f", "m"]
    assert len((data / "train" / "text").read_text().splitlines()) == 12
    assert len((data / "dev" / "text").read_text().splitlines()) == 12


def check_results(exp: Path) -> None:
    """Every test set decoded whole, scored with Whisper's English normaliser, in RESULTS.md."""
    for stage in STAGES:
        assert (exp / stage / "trained.safetensors").is_file()
    results = (exp / "RESULTS.md").read_text()
    assert "| tag | stage | config | test_clean | test_other |" in results
    for s in TEST_SETS:
        score = json.loads((exp / "sft" / f"decode_{s}_asr" / "score_asr.json").read_text())
        assert score["num_utts"] == 6 and score["missing_hyps"] == 0
        assert score["normalizer"] == "english" and score["metric"] == "wer"
        assert f"| paper | sft | {s} | asr | %WER " in results


@pytest.mark.slow
def test_librispeech_recipe_local(tmp_path, corpus_and_models):
    corpus, models = corpus_and_models
    recipe = copy_recipe(RECIPE, tmp_path / "asr1")
    run_recipe(recipe, corpus, models, _env(cmd_backend="local"), "--nj", "1")
    check_data_dirs(recipe, corpus)
    check_results(recipe / "exp" / "paper")
    assert not (recipe / "exp/paper/align/log/q").exists()  # no Slurm here


@pytest.mark.slow
@pytest.mark.slurm
def test_librispeech_recipe_on_slurm(tmp_path, corpus_and_models, slurm_cluster):  # noqa: F811
    corpus, models = corpus_and_models
    recipe = copy_recipe(RECIPE, tmp_path / "asr1")
    run_recipe(
        recipe, corpus, models, _env(cmd_backend="slurm", **slurm_cluster),
        "--nj", "2", "--train-procs", "2",
    )  # fmt: skip
    check_data_dirs(recipe, corpus)
    exp = recipe / "exp" / "paper"
    check_results(exp)
    # fbank and decoding: array jobs of 2 tasks
    assert "--array=1-2 " in (recipe / "data/fbank/train/log/q/fbank.sh").read_text()
    assert "--array=1-2 " in (exp / "sft/log/q/decode_test_clean.sh").read_text()
    for stage in STAGES:
        log = (exp / stage / "log" / "train.log").read_text()
        launch = next(line for line in log.splitlines() if line.startswith("launch_train: "))
        assert launch.split()[1] == "srun" and "--rdzv-backend=c10d" in launch
        assert "--nproc-per-node=2" in launch and "--nnodes=1" in launch
        states = list((exp / stage / "checkpoints").glob("*/state.json"))
        assert states and all(json.loads(p.read_text())["world_size"] == 2 for p in states)

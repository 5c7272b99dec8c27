"""A tiny synthesized corpus with features and tiny models, for the pipeline tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from safetensors.torch import load_file
from transformers.utils import logging as hf_logging

from soundwave.bin import combine_cuts, compute_fbank, make_manifests
from soundwave.offline.synth.corpus import CorpusConfig, build
from soundwave.offline.tiny import build_tiny_llm, build_tiny_whisper

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

SETS = ("train", "dev", "test")


def tiny_setup(root: Path) -> Path:
    """Corpus (40/8/8 utterances) -> manifests -> log-mel -> tiny Whisper and tiny Llama."""
    cfg = CorpusConfig(
        num_train=40, num_dev=8, num_test=8, spk_train=8, spk_dev=2, spk_test=2,
        num_text_train=60, num_text_dev=10,
    )  # fmt: skip
    build(cfg, root / "data", root / "work", nj=2, log=lambda _: None)
    for s in SETS:
        make_manifests.main(
            ["--data-dir", str(root / "data" / s), "--out", str(root / f"cuts_raw_{s}.jsonl.gz")]
        )
        compute_fbank.main([
            "--cuts", str(root / f"cuts_raw_{s}.jsonl.gz"), "--storage", str(root / "fbank" / s),
            "--out-cuts", str(root / f"cuts_{s}.part.jsonl.gz"), "--no-progress",
        ])  # fmt: skip
        combine_cuts.main([str(root / f"cuts_{s}.jsonl.gz"), str(root / f"cuts_{s}.part.jsonl.gz")])
    texts = [line.split(" ", 1)[1] for line in (root / "data/train/text").read_text().splitlines()]
    texts += [
        line.split(" ", 1)[1] for line in (root / "data/train/text.de").read_text().splitlines()
    ]
    build_tiny_whisper(root / "whisper", n_mels=80, d_model=48, layers=2)
    build_tiny_llm(root / "llm", arch="llama", texts=texts, vocab_size=400, hidden=64, layers=2)
    return root


def write_config(path: Path, root: Path, stage: str, **sections) -> Path:
    """A stage config over the tiny setup; ``sections`` update the defaults below."""
    cfg = {
        "stage": stage,
        "data": {
            "train": [{"cuts": str(root / "cuts_train.jsonl.gz"), "tasks": ["asr"]}],
            "valid": [{"cuts": str(root / "cuts_dev.jsonl.gz"), "tasks": ["asr"]}],
            "max_duration": 30,
            "num_buckets": 2,
            "valid_max_utts": 8,
        },
        "optim": {"lr": 3.0e-3, "warmup_steps": 5},
        "train": {"max_steps": 20, "log_interval": 5, "save_interval": 100, "progress_bar": False},
        "generation": {"max_new_tokens": 12},
    }
    if stage == "align":
        cfg["model"] = {
            "encoder_path": str(root / "whisper"),
            "llm_path": str(root / "llm"),
            "lora_rank": 4,
            "lora_alpha": 8,
        }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def losses(stage_dir: Path) -> list[float]:
    return [
        row["loss"] for row in json.loads((stage_dir / "history.json").read_text()) if "loss" in row
    ]


# two gloo processes on this machine: train_cmd(..., launcher=TORCHRUN)
TORCHRUN = (
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc_per_node",
    "2",
    "-m",
)


def train_cmd(config, exp_dir, *overrides, launcher=(sys.executable, "-m")):
    return [
        *launcher,
        "soundwave.bin.train",
        "--config",
        str(config),
        "--exp-dir",
        str(exp_dir),
        *overrides,
    ]


# the same thread count everywhere: float sums are reduced in another order with more threads
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def run(cmd, **kw):
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=True, **kw)


def weights(exp_dir):
    return load_file(str(exp_dir / "trained.safetensors"))

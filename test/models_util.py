"""Shared tiny models for the test_models_* files (built once per test session)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from soundwave.models.config import SoundwaveConfig
from soundwave.models.soundwave import SoundwaveModel
from soundwave.offline.tiny import build_tiny_llm, build_tiny_official, build_tiny_whisper

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

TEXTS = [
    "hello world",
    "the quick brown fox",
    "turn on the lights",
    "set an alarm for seven",
    "please transcribe the audio",
]


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="sw-test-models-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def whisper_dir() -> str:
    return build_tiny_whisper(_root() / "whisper", n_mels=80, d_model=32, layers=2)


@functools.cache
def llm_dir(arch: str = "llama") -> str:
    return build_tiny_llm(
        _root() / f"llm-{arch}", arch, vocab_size=320, hidden=32, heads=4, kv_heads=2, init_std=0.2
    )


@functools.cache
def official_dir() -> str:
    return build_tiny_official(
        _root() / "official", audio_tower=whisper_dir(), adapter_size=32, vocab_size=320, hidden=32
    )


def config(arch: str = "llama", **overrides) -> SoundwaveConfig:
    base = dict(
        encoder_path=whisper_dir(),
        llm_path=llm_dir(arch),
        lora_rank=4,
        lora_alpha=8,
        linear_hidden=16,
        adapter_dropout=0.0,
        lookback_dropout=0.0,
        lora_dropout=0.0,
    )
    return SoundwaveConfig(**{**base, **overrides})


def model(arch: str = "llama", seed: int = 0, **overrides) -> SoundwaveModel:
    torch.manual_seed(seed)
    return SoundwaveModel(config(arch, **overrides))


def feats(lengths: list[int], seed: int = 0, n_mels: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """Random log-mel-like features, zero-padded on the right."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), n_mels, max(lengths), generator=g)
    lens = torch.tensor(lengths)
    x = x * (torch.arange(max(lengths))[None, None, :] < lens[:, None, None])
    return x, lens


def sharpen_ctc(m: SoundwaveModel, scale: float = 8.0) -> None:
    """Scale the random CTC head so that argmax runs are longer than one frame."""
    with torch.no_grad():
        m.ctc_head.weight.mul_(scale)

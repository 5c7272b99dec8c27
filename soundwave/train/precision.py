"""Which dtype a training step runs in on which device (``train.dtype``)."""

from __future__ import annotations

import torch

DTYPE_CHOICES = ("auto", "auto_bf16", "float32", "bfloat16", "float16")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX)."""
    try:
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # a torch without these probes: assume emulation
        return False


def autocast_dtype(dtype: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.dtype`` = ``dtype`` on ``device``; None: run in fp32."""
    if dtype in ("auto", "auto_bf16"):
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # native CPU bf16 speeds up some models (matrix-bound LMs) and slows others (small
        # convolutional encoders): opt-in per config
        return torch.bfloat16 if dtype == "auto_bf16" and cpu_has_native_bf16() else None
    if dtype == "float32":
        return None
    return getattr(torch, dtype)

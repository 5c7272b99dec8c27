"""The architectures of the real models a recipe names, constructible offline.

Planning memory for whisper-large-v2 + Llama-3.1-8B needs their shapes, not their weights,
and nothing can be downloaded: the published ``config.json`` fields that set parameter
counts are kept here, one entry per model.  A model is named by a local dir with a
``config.json`` (read as is) or by a path or name whose last part is in :data:`KNOWN`
(``meta-llama/Llama-3.1-8B-Instruct`` and ``exp/models/Llama-3.1-8B`` both name
``llama-3.1-8b``: instruct and base models share their shapes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from soundwave.errors import UserError

_WHISPER_LARGE = {
    "model_type": "whisper",
    "d_model": 1280,
    "encoder_layers": 32,
    "decoder_layers": 32,
    "encoder_attention_heads": 20,
    "decoder_attention_heads": 20,
    "encoder_ffn_dim": 5120,
    "decoder_ffn_dim": 5120,
    "max_source_positions": 1500,
    "max_target_positions": 448,
}
_LLAMA3 = {
    "model_type": "llama",
    "vocab_size": 128256,
    "num_key_value_heads": 8,
    "rope_theta": 500000.0,
    "rms_norm_eps": 1e-5,
    "max_position_embeddings": 131072,
    "hidden_act": "silu",
    "tokenizer_size": 128256,  # len(tokenizer): where an added audio token goes
}
_QWEN25 = {
    "model_type": "qwen2",
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 32768,
    "hidden_act": "silu",
    "tokenizer_size": 151665,
}

# published config.json fields (those that set shapes) of each model
KNOWN: dict[str, dict[str, Any]] = {
    "whisper-large-v2": {**_WHISPER_LARGE, "num_mel_bins": 80, "vocab_size": 51865},
    "whisper-large-v3": {**_WHISPER_LARGE, "num_mel_bins": 128, "vocab_size": 51866},
    "llama-3.1-8b": {
        **_LLAMA3,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "tie_word_embeddings": False,
    },
    "llama-3.2-1b": {
        **_LLAMA3,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "head_dim": 64,
        "tie_word_embeddings": True,
    },
    "llama-3.2-3b": {
        **_LLAMA3,
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 28,
        "num_attention_heads": 24,
        "head_dim": 128,
        "tie_word_embeddings": True,
    },
    "qwen2.5-1.5b": {
        **_QWEN25,
        "vocab_size": 151936,
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "tie_word_embeddings": True,
    },
    "qwen2.5-7b": {
        **_QWEN25,
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
    },
}


def known_name(path: str | os.PathLike) -> str | None:
    """The :data:`KNOWN` entry a model path or name stands for (None: none)."""
    name = Path(str(path)).name.lower().removesuffix("-instruct")
    return name if name in KNOWN else None


def architecture(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` fields of the model at ``path``: a local dir's own file, else the
    table entry its name stands for."""
    file = Path(path) / "config.json"
    if file.is_file():
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"invalid JSON: {err.msg}", file, err.lineno) from None
    name = known_name(path)
    if name is None:
        raise UserError(
            f"no config.json there, and its name is none of the known models ({', '.join(KNOWN)})",
            path,
        )
    return dict(KNOWN[name])


def hf_config(fields: dict[str, Any]):
    """The transformers config object of ``config.json`` fields."""
    from transformers import AutoConfig

    fields = {k: v for k, v in fields.items() if k != "tokenizer_size"}
    model_type = fields.pop("model_type", None)
    if model_type is None:
        raise UserError("config.json has no model_type")
    return AutoConfig.for_model(model_type, **fields)

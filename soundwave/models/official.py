"""Import a released Soundwave checkpoint (FreedomIntelligence/Soundwave, HF layout).

The LLM part loads straight from the official dir (its Llama tensor names are HF's); the
audio modules are renamed into ours.  The imported model reproduces the released
computation: 30 s padded input with all 750 frames counted, frame-wise adapter layer,
"runs" selection, look-back over the kept frames, the hand-built Llama-3 prompt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from soundwave.errors import UserError
from soundwave.models.config import SoundwaveConfig
from soundwave.models.llm import read_model_config
from soundwave.models.soundwave import SoundwaveModel
from soundwave.models.stage_dir import load_trained_state_dict
from soundwave.models.weights import read_tensors

# official tensor-name prefix -> ours
NAME_MAP = {
    "model.mm_projector1.": "adapter.proj.",
    "model.asr_transformer_encoder.layers.": "adapter.layers.",
    "model.out_norm.": "adapter.out_norm.",
    "model.audio_feature_head.": "ctc_head.",
    "model.lbm.encoder_attn.": "bridge.lookback.attn.",
    "model.lbm.atten_layer_norm.": "bridge.lookback.norm.",
}


def official_name(name: str) -> str | None:
    for old, new in NAME_MAP.items():
        if name.startswith(old):
            return new + name[len(old) :]
    return None


def official_config(
    official_dir: str | os.PathLike, encoder_path: str | None = None, **overrides: Any
) -> SoundwaveConfig:
    """The SoundwaveConfig that reproduces a released checkpoint."""
    raw = read_model_config(official_dir)
    where = Path(official_dir) / "config.json"
    if raw.get("model_type") != "Soundwave":
        raise UserError(f"model_type is {raw.get('model_type')!r}, not 'Soundwave'", where)
    for key in ("adapter_size", "num_attention_heads"):
        if key not in raw:
            raise UserError(f"config lacks {key!r}", where)
    if int(raw.get("audio_patch_size", 1)) != 1:
        raise UserError("only audio_patch_size 1 (one placeholder token) is supported", where)
    encoder_path = encoder_path or raw.get("audio_tower")
    if not encoder_path or not Path(encoder_path).is_dir():
        raise UserError(
            f"the Whisper encoder dir {encoder_path!r} (audio_tower) does not exist; pass encoder_path",
            where,
        )
    token = raw.get("audio_patch_token", "<audio_patch>")
    # absolute, so that the imported model loads from any working directory
    fields: dict[str, Any] = dict(
        encoder_path=str(Path(encoder_path).resolve()),
        llm_path=str(Path(official_dir).resolve()),
        encoder_input="pad30",
        # the released model counts all 750 frames of the window (only meaningful with pad30)
        encoder_full_window=overrides.get("encoder_input", "pad30") == "pad30",
        bridge="runs",
        stack=2,
        adapter_layers=1,
        adapter_temporal=False,
        adapter_heads=int(raw["num_attention_heads"]),
        adapter_ff_mult=2,
        adapter_dropout=0.1,
        lookback="kept",
        lookback_dropout=0.1,
        ctc_weight=0.3,
        prompt_style="official",
    )
    if isinstance(token, str):
        fields["audio_token"] = token
    return SoundwaveConfig.from_dict({**fields, **overrides})


def import_official(
    official_dir: str | os.PathLike, encoder_path: str | None = None, **overrides: Any
) -> SoundwaveModel:
    """A SoundwaveModel holding a released checkpoint's weights.

    ``encoder_path`` replaces the config's ``audio_tower`` (a hub name in the release);
    ``overrides`` change SoundwaveConfig fields (e.g. ``encoder_input="variable"``).
    """
    raw = read_model_config(official_dir)
    cfg = official_config(official_dir, encoder_path, **overrides)
    model = SoundwaveModel(cfg)
    token = raw.get("audio_patch_token")
    if isinstance(token, int) and token != model.audio_token_id:
        raise UserError(
            f"audio_patch_token {token} is not the tokenizer's {cfg.audio_token} ({model.audio_token_id})",
            Path(official_dir) / "config.json",
        )
    if model.encoder.dim != int(raw["adapter_size"]):
        raise UserError(
            f"adapter_size {raw['adapter_size']} != the encoder's width {model.encoder.dim}",
            cfg.encoder_path,
        )
    state = read_tensors(official_dir, official_name)
    if getattr(model.bridge, "lookback", None) is None:  # overridden: no look-back wanted
        state = {k: v for k, v in state.items() if not k.startswith("bridge.lookback.")}
    load_trained_state_dict(model, state, official_dir, require_all=True)
    pad = raw.get("llm_pad_token_id")
    if isinstance(pad, int) and pad < len(model.tokenizer):
        model.tokenizer.pad_token = model.tokenizer.convert_ids_to_tokens(pad)
    return model

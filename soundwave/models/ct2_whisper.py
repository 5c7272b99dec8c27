"""Convert a CTranslate2 (faster-whisper) Whisper directory into an HF Whisper directory.

A CT2 Whisper dir holds ``model.bin`` (all tensors, possibly int8/int16-quantised),
``config.json`` (suppress tokens, language ids, alignment heads), ``vocabulary.txt`` (every
token, one a line) and usually ``tokenizer.json``.  :func:`convert_ct2_whisper` writes a
directory that ``WhisperForConditionalGeneration.from_pretrained`` and
``WhisperProcessor.from_pretrained`` (or ``AutoProcessor``) load.  ``ctranslate2`` itself is
never needed: :func:`read_ct2_model` parses ``model.bin`` directly.

``model.bin`` layout (little-endian, what ``ctranslate2.specs.ModelSpec.save`` writes):
uint32 version; string spec name; uint32 revision; uint32 variable count; per variable:
string name, uint8 rank, rank x uint32 dims, uint8 dtype id, uint32 byte count, raw data;
then uint32 alias count and (alias, target) string pairs.  A string is a uint16 length
(including the trailing NUL) followed by the bytes.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir, public_mode
from soundwave.models.weights import require_dir

# CTranslate2's DataType enum.  bfloat16 has no numpy dtype: read as uint16, widened below.
DTYPE_IDS: dict[int, tuple[str, np.dtype]] = {
    0: ("float32", np.dtype("<f4")),
    1: ("int8", np.dtype("i1")),
    2: ("int16", np.dtype("<i2")),
    3: ("int32", np.dtype("<i4")),
    4: ("float16", np.dtype("<f2")),
    5: ("bfloat16", np.dtype("<u2")),
}
# Binary versions whose layout is the one above (ctranslate2 >= 2 writes 6).
SUPPORTED_VERSIONS = (4, 5, 6)
GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU
OUTPUT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")
SPECIAL = re.compile(r"<\|[^|]+\|>")


@dataclass
class Ct2Model:
    """The parsed ``model.bin``: float tensors dequantised to float32, aliases resolved."""

    spec: str
    revision: int
    version: int
    variables: dict[str, np.ndarray]
    stored_dtypes: dict[str, str] = field(default_factory=dict)  # name -> dtype in the file
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> target


class _Cursor:
    """Bounds-checked reads over the file's bytes: every shortfall is a one-line UserError."""

    def __init__(self, data: bytes | memoryview, path: Path):
        self.data = memoryview(data)
        self.path = path
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.data) - self.pos:
            raise UserError(
                f"truncated CTranslate2 model: {what} needs {n} bytes at offset {self.pos}, "
                f"{len(self.data) - self.pos} left",
                self.path,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.unpack("H", f"length of {what}")
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise UserError(f"bad CTranslate2 model: {what} is not NUL-terminated", self.path)
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"bad CTranslate2 model: {what} is not UTF-8", self.path) from None


def _to_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # bfloat16 is the top half of a float32
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def read_ct2_model(path: str | os.PathLike, expect_spec: str | None = "WhisperSpec") -> Ct2Model:
    """Parse a CTranslate2 ``model.bin``.

    Float tensors (float32/float16/bfloat16) come back as float32; an int8 or int16 tensor
    with a ``<name>_scale`` sibling is dequantised (``q / scale``, one scale per output row
    for int8, one for the tensor for int16) and the scale dropped; other integers (flags,
    head counts) keep their type.  Aliases are resolved after dequantising.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("CTranslate2 model file not found", path)
    # Memory-mapped: a large-v3 model.bin is 3 GB, and every tensor is copied out anyway.
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return _parse(b"", path, expect_spec)
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _parse(data, path, expect_spec)
    finally:
        with contextlib.suppress(BufferError):  # a view still alive: the GC closes it
            data.close()


def _parse(data: bytes | mmap.mmap, path: Path, expect_spec: str | None) -> Ct2Model:
    cur = _Cursor(data, path)
    version = cur.unpack("I", "binary version")
    if version not in SUPPORTED_VERSIONS:
        raise UserError(
            f"bad magic: binary version {version} is not a CTranslate2 model version this "
            f"reader knows ({', '.join(map(str, SUPPORTED_VERSIONS))})",
            path,
        )
    spec = cur.string("spec name")
    if expect_spec is not None and spec != expect_spec:
        raise UserError(f"bad magic: spec is '{spec}', expected '{expect_spec}'", path)
    revision = cur.unpack("I", "spec revision")
    count = cur.unpack("I", "variable count")
    raw: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    for i in range(count):
        name = cur.string(f"name of variable {i}")
        rank = cur.unpack("B", f"rank of {name}")
        shape = tuple(cur.unpack("I", f"dimension {d} of {name}") for d in range(rank))
        type_id = cur.unpack("B", f"dtype of {name}")
        if type_id not in DTYPE_IDS:
            raise UserError(f"unknown dtype id {type_id} for variable '{name}'", path)
        dtype, np_dtype = DTYPE_IDS[type_id]
        nbytes = cur.unpack("I", f"byte count of {name}")
        expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
        if nbytes != expected:
            raise UserError(
                f"bad CTranslate2 model: variable '{name}' {dtype} {list(shape)} declares "
                f"{nbytes} bytes, its shape needs {expected}",
                path,
            )
        if name in raw:
            raise UserError(f"bad CTranslate2 model: variable '{name}' appears twice", path)
        raw[name] = np.frombuffer(cur.take(nbytes, f"data of {name}"), np_dtype).reshape(shape)
        stored[name] = dtype
    aliases = []
    for i in range(cur.unpack("I", "alias count")):
        aliases.append((cur.string(f"alias {i}"), cur.string(f"target of alias {i}")))
    if cur.pos != len(data):
        raise UserError(
            f"bad CTranslate2 model: {len(data) - cur.pos} leftover bytes after the aliases", path
        )

    variables: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith("_scale") and name.removesuffix("_scale") in raw:
            continue
        dtype = stored[name]
        scale = raw.get(name + "_scale")
        if scale is not None:
            if dtype not in ("int8", "int16"):
                raise UserError(f"bad CTranslate2 model: '{name}' is {dtype} but has a scale", path)
            scale = _to_float32(scale, stored[name + "_scale"])
            q = value.astype(np.float32)
            if scale.size == 1:
                value = q / scale.reshape(())
            elif scale.ndim == 1 and scale.shape[0] == q.shape[0]:
                # int8: one scale per output row (a conv weight is flattened to 2D for it)
                value = (q.reshape(q.shape[0], -1) / scale[:, None]).reshape(q.shape)
            else:
                raise UserError(
                    f"bad CTranslate2 model: scale of '{name}' has shape {list(scale.shape)} "
                    f"for a tensor of shape {list(q.shape)}",
                    path,
                )
        elif dtype in ("float32", "float16", "bfloat16"):
            value = _to_float32(value, dtype)
        else:
            value = value.copy()  # detach from the file's bytes
        variables[name] = value
    for alias, target in aliases:
        if target not in variables:
            raise UserError(
                f"bad CTranslate2 model: alias '{alias}' points to missing '{target}'", path
            )
        # a copy: CT2 also aliases merely equal tensors (e.g. zero biases of several
        # layers), which must not become shared storage in the HF checkpoint
        variables[alias] = variables[target].copy()
    return Ct2Model(spec, revision, version, variables, stored, dict(aliases))


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


def ct2_to_hf_state_dict(model: Ct2Model, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Map CT2 Whisper tensors onto HF names; return (state dict, WhisperConfig kwargs).

    Every CT2 variable must be used or be a known flag with the value HF's layout assumes:
    an unknown one is an error rather than a silently different model.
    """
    take = _Take(model.variables, path)
    names = list(model.variables)
    sd: dict[str, np.ndarray] = {}

    def linear(src: str, dst: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = take(f"{src}/weight")
        b = take(f"{src}/bias", optional=not bias)
        if b is not None:
            sd[f"{dst}.bias"] = b

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"] = take(f"{src}/gamma")
        sd[f"{dst}.bias"] = take(f"{src}/beta")

    def fused(src: str, dsts: list[str], d_model: int) -> None:
        w, b = take(f"{src}/weight"), take(f"{src}/bias")
        if w.shape[0] != len(dsts) * d_model or b.shape != (w.shape[0],):
            raise UserError(
                f"'{src}' has shape {list(w.shape)}, expected {len(dsts)} x {d_model}", path
            )
        for i, dst in enumerate(dsts):
            # copies, so that q/k/v do not share the fused tensor's storage
            sd[f"{dst}.weight"] = w[i * d_model : (i + 1) * d_model].copy()
            part = b[i * d_model : (i + 1) * d_model].copy()
            if dst.endswith("k_proj"):
                _zero_bias(part, f"{src}/bias", path)
            else:
                sd[f"{dst}.bias"] = part

    emb = take("decoder/embeddings/weight")
    vocab_size, d_model = emb.shape
    sd["model.decoder.embed_tokens.weight"] = emb
    enc_layers = _count_layers(names, "encoder", path)
    dec_layers = _count_layers(names, "decoder", path)
    enc_heads = _scalar(take, "encoder/num_heads")
    dec_heads = _scalar(take, "decoder/num_heads")
    for heads in (enc_heads, dec_heads):
        if heads <= 0 or d_model % heads:
            raise UserError(f"{heads} heads do not divide d_model {d_model}", path)

    for i in ("1", "2"):
        linear(f"encoder/conv{i}", f"model.encoder.conv{i}")
    sd["model.encoder.embed_positions.weight"] = take("encoder/position_encodings/encodings")
    sd["model.decoder.embed_positions.weight"] = take("decoder/position_encodings/encodings")
    norm("encoder/layer_norm", "model.encoder.layer_norm")
    norm("decoder/layer_norm", "model.decoder.layer_norm")
    for side, n in (("encoder", enc_layers), ("decoder", dec_layers)):
        for i in range(n):
            src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            fused(
                f"{src}/self_attention/linear_0",
                [f"{dst}.self_attn.{p}_proj" for p in "qkv"],
                d_model,
            )
            linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            if side == "decoder":
                linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
                fused(
                    f"{src}/attention/linear_1",
                    [f"{dst}.encoder_attn.{p}_proj" for p in "kv"],
                    d_model,
                )
                linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
                norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
            linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
            linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
            norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")

    # Whisper ties the output projection to the token embeddings (CT2 stores an alias).
    proj = take("decoder/projection/weight", optional=True)
    proj_bias = take("decoder/projection/bias", optional=True)
    if proj_bias is not None and np.any(proj_bias != 0):
        raise UserError("'decoder/projection/bias' is non-zero: HF's proj_out has no bias", path)
    tied = proj is None or np.array_equal(proj, emb)
    if not tied:
        sd["proj_out.weight"] = proj

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

    conv1 = sd["model.encoder.conv1.weight"]
    config = {
        "vocab_size": int(vocab_size),
        "num_mel_bins": int(conv1.shape[1]),
        "d_model": int(d_model),
        "encoder_layers": enc_layers,
        "decoder_layers": dec_layers,
        "encoder_attention_heads": enc_heads,
        "decoder_attention_heads": dec_heads,
        "encoder_ffn_dim": int(sd["model.encoder.layers.0.fc1.weight"].shape[0])
        if enc_layers
        else 4 * d_model,
        "decoder_ffn_dim": int(sd["model.decoder.layers.0.fc1.weight"].shape[0])
        if dec_layers
        else 4 * d_model,
        "max_source_positions": int(sd["model.encoder.embed_positions.weight"].shape[0]),
        "max_target_positions": int(sd["model.decoder.embed_positions.weight"].shape[0]),
        "activation_function": "gelu",
        "scale_embedding": False,
        "tie_word_embeddings": tied,
    }
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, config


# ---- tokenizer, feature extractor, generation config ---------------------------------------


def read_vocabulary(path: Path) -> list[str]:
    """CT2's ``vocabulary.txt``: one token a line, line i = id i (byte-level BPE tokens hold no
    newline; a ``vocabulary.json`` list is the newer form)."""
    if path.suffix == ".json":
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"bad vocabulary: {err}", path) from None
    else:
        tokens = path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise UserError("bad vocabulary: not a list of tokens", path)
    return tokens


def _bpe_from_tokenizer_json(path: Path) -> tuple[dict[str, int], list[str]]:
    try:
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
        vocab, merges = model["vocab"], model["merges"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserError(f"not a byte-level BPE tokenizer.json: {err}", path) from None
    # tokenizers writes merges as "a b" strings (old) or [a, b] pairs (>= 0.20)
    return vocab, [m if isinstance(m, str) else " ".join(m) for m in merges]


def build_tokenizer(ct2_dir: Path, tokens: list[str]) -> Any:
    """An HF Whisper tokenizer whose ids equal CT2's vocabulary (timestamps included).

    The BPE part comes from ``tokenizer.json``; specials and timestamps are added the way
    transformers' own OpenAI converter adds them (specials special, timestamps not).
    """
    from tokenizers import AddedToken
    from transformers import WhisperTokenizerFast

    tj = ct2_dir / "tokenizer.json"
    if not tj.is_file():
        raise UserError("tokenizer.json missing (needed for the BPE merges)", ct2_dir)
    vocab, merges = _bpe_from_tokenizer_json(tj)
    if "<|endoftext|>" not in tokens:
        raise UserError("no <|endoftext|> token: not a Whisper vocabulary", ct2_dir)
    eot = tokens.index("<|endoftext|>")
    bpe = {t: i for t, i in vocab.items() if i < eot}
    for i, t in enumerate(tokens[:eot]):
        if bpe.get(t) != i:
            raise UserError(f"tokenizer.json and the vocabulary disagree on token {i} ('{t}')", tj)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vocab.json").write_text(json.dumps(bpe, ensure_ascii=False), encoding="utf-8")
        Path(tmp, "merges.txt").write_text(
            "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
        )
        tok = WhisperTokenizerFast.from_pretrained(tmp, pad_token="<|endoftext|>")
    rest = tokens[eot:]
    specials = [t for t in rest if SPECIAL.fullmatch(t) and not TIMESTAMP.fullmatch(t)]
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in rest if t not in specials]
    )
    if len(tok) != len(tokens):
        raise UserError(f"tokenizer has {len(tok)} tokens, the vocabulary {len(tokens)}", ct2_dir)
    ids = tok.convert_tokens_to_ids(tokens)
    bad = [i for i, j in enumerate(ids) if i != j]
    if bad:
        raise UserError(f"token {bad[0]} ('{tokens[bad[0]]}') gets id {ids[bad[0]]}", ct2_dir)
    return tok


def build_generation_config(tokens: list[str], ct2_config: dict, max_length: int) -> Any:
    """Whisper's generation settings from the vocabulary and CT2's config.json."""
    from transformers import GenerationConfig

    ids = {t: i for i, t in enumerate(tokens)}
    multilingual = len(tokens) >= 51865  # transformers' own test: .en vocabularies are 51864
    sot = ids["<|startoftranscript|>"]
    gen: dict[str, Any] = {
        "bos_token_id": sot,
        "decoder_start_token_id": sot,
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "no_timestamps_token_id": ids.get("<|notimestamps|>"),
        "prev_sot_token_id": ids.get("<|startofprev|>"),
        "suppress_tokens": list(ct2_config.get("suppress_ids") or []),
        "begin_suppress_tokens": list(ct2_config.get("suppress_ids_begin") or []),
        "max_initial_timestamp_index": 50,  # OpenAI's max_initial_timestamp of 1 s
        "max_length": max_length,
        "is_multilingual": multilingual,
        "return_timestamps": False,
    }
    if ct2_config.get("alignment_heads"):
        gen["alignment_heads"] = [list(h) for h in ct2_config["alignment_heads"]]
    if multilingual:
        # language tokens sit between <|startoftranscript|> and <|translate|>
        end = ids.get("<|translate|>", sot + 1)
        gen["lang_to_id"] = {t: ids[t] for t in tokens[sot + 1 : end]}
        gen["task_to_id"] = {k: ids[f"<|{k}|>"] for k in ("transcribe", "translate")}
    return GenerationConfig(**gen)


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


def convert_ct2_whisper(
    ct2_dir: str | os.PathLike, out_dir: str | os.PathLike, dtype: str = "float32"
) -> dict[str, Any]:
    """Convert a CTranslate2 Whisper dir into an HF dir (model, generation config, tokenizer,
    feature extractor, and ``conversion.json`` with the provenance).  ``out_dir`` appears
    only once complete.  Returns a short report (dims, seconds, stored dtypes)."""
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

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
    tokenizer = build_tokenizer(src, tokens)
    features = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
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

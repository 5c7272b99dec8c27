"""Tiny random models for tests and the offline recipe: built from configs, never downloaded.

``build_tiny_whisper`` writes an HF Whisper directory (WhisperModel + feature extractor);
``build_tiny_llm`` trains a byte-level BPE tokenizer in-process, wraps it as an HF fast
tokenizer with a chat template (Llama-3 or Qwen2 style) and writes a tiny random causal LM
beside it; ``build_tiny_official`` writes a random checkpoint in the released Soundwave
HF layout (for the importer and its tests).  All return the directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from soundwave.fileio import atomic_dir

AUDIO_TOKEN = "<audio_patch>"

# A little English so that the BPE merges look like words; the byte alphabet covers the rest.
DEFAULT_TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "please transcribe the following audio",
    "translate the speech into german",
    "what is the emotion of the speaker",
    "turn on the lights in the kitchen",
    "set an alarm for seven in the morning",
    "you are a helpful language and speech assistant",
    "one two three four five six seven eight nine ten",
    "she sells sea shells by the sea shore",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "system user assistant",
]

# Llama-3's chat template, less its date/tools preamble.
LLAMA3_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)
# Qwen2-Instruct's ChatML template, less its default system prompt and tools.
QWEN2_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)
LLM_ARCHS = ("llama", "qwen2")


def llm_config(
    tokenizer,
    arch: str = "llama",
    hidden: int = 192,
    layers: int = 4,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int | None = None,
    max_positions: int = 1024,
    tie_embeddings: bool = False,
    init_std: float = 0.02,
):
    """An HF config for a tiny ``arch`` ("llama" or "qwen2") LM over ``tokenizer``'s
    vocabulary, with its bos/eos/pad ids.  ``intermediate`` defaults to 4 x ``hidden``."""
    from transformers import LlamaConfig, Qwen2Config

    if arch not in LLM_ARCHS:
        raise ValueError(f"arch must be one of {list(LLM_ARCHS)}, not '{arch}'")
    if hidden % heads or heads % kv_heads:
        raise ValueError("hidden must be divisible by heads, and heads by kv_heads")
    return {"llama": LlamaConfig, "qwen2": Qwen2Config}[arch](
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=intermediate or 4 * hidden,
        max_position_embeddings=max_positions,
        initializer_range=init_std,
        tie_word_embeddings=tie_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def whisper_config(
    n_mels: int = 80,
    d_model: int = 144,
    layers: int = 4,
    heads: int = 4,
    ffn_dim: int | None = None,
    max_source_positions: int = 1500,
    dropout: float = 0.1,
):
    """A Whisper config with a tiny encoder (``ffn_dim`` defaults to 4 x ``d_model``) and a
    minimal 1-layer decoder over a 32-token vocabulary (only the encoder is ever used)."""
    from transformers import WhisperConfig

    if d_model % heads:
        raise ValueError("d_model must be divisible by heads")
    return WhisperConfig(
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=ffn_dim or 4 * d_model,
        max_source_positions=max_source_positions,
        dropout=dropout,
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=d_model,
        vocab_size=32,
        max_target_positions=32,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )


_ARCH_TOKENS = {
    # specials (in id order), bos, eos, pad, chat template
    "llama": (
        [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<|finetune_right_pad_id|>",
        ],
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|finetune_right_pad_id|>",
        LLAMA3_CHAT_TEMPLATE,
    ),
    "qwen2": (
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        None,
        "<|im_end|>",
        "<|endoftext|>",
        QWEN2_CHAT_TEMPLATE,
    ),
}


def build_tiny_tokenizer(
    out_dir: str | os.PathLike,
    arch: str = "llama",
    texts: list[str] | None = None,
    vocab_size: int = 384,
    add_audio_token: bool = False,
):
    """Train a byte-level BPE tokenizer on ``texts`` and save it as an HF fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if arch not in _ARCH_TOKENS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(_ARCH_TOKENS)}")
    specials, bos, eos, pad, template = _ARCH_TOKENS[arch]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts or DEFAULT_TEXTS), trainer)
    if bos is not None:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, chat_template=template
    )
    if add_audio_token:
        fast.add_tokens([AUDIO_TOKEN], special_tokens=True)
    fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_llm(
    out_dir: str | os.PathLike,
    arch: str = "llama",
    texts: list[str] | None = None,
    vocab_size: int = 384,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    seed: int = 0,
    init_std: float = 0.02,
) -> str:
    """Write a tiny random causal LM ("llama" or "qwen2") and its tokenizer to ``out_dir``.

    A larger ``init_std`` than HF's 0.02 gives a random model whose greedy output depends on
    its input (useful when comparing decoders)."""
    from transformers import AutoModelForCausalLM

    out_dir = str(out_dir)
    tok = build_tiny_tokenizer(out_dir, arch, texts, vocab_size)
    cfg = llm_config(
        tok,
        arch,
        hidden,
        layers,
        heads,
        kv_heads,
        2 * hidden,
        tie_embeddings=arch == "qwen2",
        init_std=init_std,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out_dir)
    return out_dir


def build_tiny_whisper(
    out_dir: str | os.PathLike,
    n_mels: int = 80,
    d_model: int = 64,
    layers: int = 2,
    seed: int = 0,
    init_std: float = 0.02,
) -> str:
    """Write a tiny random Whisper (WhisperModel + feature extractor) to ``out_dir``.

    The encoder keeps Whisper's real time geometry (1500 positions = 30 s at 50 Hz).  At
    HF's ``init_std`` of 0.02 its output is mostly the positional embeddings and says little
    about the audio; a larger one (0.1) gives frames that carry it, for a model to listen to.
    """
    from transformers import WhisperFeatureExtractor, WhisperModel

    out_dir = str(out_dir)
    cfg = whisper_config(
        n_mels=n_mels, d_model=d_model, layers=layers, heads=4, ffn_dim=2 * d_model
    )
    cfg.init_std = init_std
    torch.manual_seed(seed)
    WhisperModel(cfg).save_pretrained(out_dir)
    WhisperFeatureExtractor(feature_size=n_mels).save_pretrained(out_dir)
    return out_dir


def build_tiny_official(
    out_dir: str | os.PathLike,
    audio_tower: str,
    adapter_size: int = 64,
    texts: list[str] | None = None,
    vocab_size: int = 384,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    seed: int = 0,
    shards: int = 2,
) -> str:
    """Write a random checkpoint in the released Soundwave HF layout (names written by hand).

    Tensor names and config keys are those of FreedomIntelligence/Soundwave; the weights are
    split over ``shards`` safetensors files with an index, as a large checkpoint is.
    """
    out_dir = Path(out_dir)
    tok = build_tiny_tokenizer(out_dir, "llama", texts, vocab_size, add_audio_token=True)
    vocab = len(tok)
    cfg = llm_config(tok, "llama", hidden, layers, heads, kv_heads, 2 * hidden).to_dict()
    cfg.update(
        model_type="Soundwave",
        architectures=["SoundwaveForCausalLM"],
        audio_tower=str(audio_tower),
        adapter_size=adapter_size,
        audio_patch_token=tok.convert_tokens_to_ids(AUDIO_TOKEN),
        audio_patch_size=1,
        llm_pad_token_id=tok.pad_token_id,
    )
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    t = _official_tensors(vocab, hidden, layers, heads, kv_heads, adapter_size, seed)
    names = sorted(t)
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: t[n].contiguous() for n in names[s::shards]}
        save_file(part, str(out_dir / fname), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, fname)
    index = {
        "metadata": {"total_size": sum(x.numel() * 4 for x in t.values())},
        "weight_map": weight_map,
    }
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return str(out_dir)


def _official_tensors(
    vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, adapter_size: int, seed: int
) -> dict[str, torch.Tensor]:
    """Random weights under the released checkpoint's tensor names."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale

    h, ff, kv = hidden, 2 * hidden, hidden // heads * kv_heads
    t: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": rnd(vocab, h),
        "lm_head.weight": rnd(vocab, h),
    }
    for i in range(layers):
        p = f"model.layers.{i}."
        t |= {
            p + "self_attn.q_proj.weight": rnd(h, h),
            p + "self_attn.k_proj.weight": rnd(kv, h),
            p + "self_attn.v_proj.weight": rnd(kv, h),
            p + "self_attn.o_proj.weight": rnd(h, h),
            p + "mlp.gate_proj.weight": rnd(2 * h, h),
            p + "mlp.up_proj.weight": rnd(2 * h, h),
            p + "mlp.down_proj.weight": rnd(h, 2 * h),
            p + "input_layernorm.weight": 1 + rnd(h, scale=0.05),
            p + "post_attention_layernorm.weight": 1 + rnd(h, scale=0.05),
        }
    t["model.norm.weight"] = 1 + rnd(h, scale=0.05)
    a = "model.asr_transformer_encoder.layers.0."
    t |= {
        "model.mm_projector1.weight": rnd(h, 2 * adapter_size),
        "model.mm_projector1.bias": rnd(h),
        a + "self_attn.in_proj_weight": rnd(3 * h, h),
        a + "self_attn.in_proj_bias": rnd(3 * h),
        a + "self_attn.out_proj.weight": rnd(h, h),
        a + "self_attn.out_proj.bias": rnd(h),
        a + "linear1.weight": rnd(ff, h),
        a + "linear1.bias": rnd(ff),
        a + "linear2.weight": rnd(h, ff),
        a + "linear2.bias": rnd(h),
        a + "norm1.weight": 1 + rnd(h, scale=0.05),
        a + "norm1.bias": rnd(h, scale=0.05),
        a + "norm2.weight": 1 + rnd(h, scale=0.05),
        a + "norm2.bias": rnd(h, scale=0.05),
        "model.out_norm.weight": 1 + rnd(h, scale=0.05),
        "model.out_norm.bias": rnd(h, scale=0.05),
        # a sharper CTC head than the rest so that argmax runs are not all length one
        "model.audio_feature_head.weight": rnd(vocab, h, scale=1.0),
        "model.lbm.encoder_attn.in_proj_weight": rnd(3 * h, h),
        "model.lbm.encoder_attn.in_proj_bias": rnd(3 * h),
        "model.lbm.encoder_attn.out_proj.weight": rnd(h, h),
        "model.lbm.encoder_attn.out_proj.bias": rnd(h),
        "model.lbm.atten_layer_norm.weight": 1 + rnd(h, scale=0.05),
        "model.lbm.atten_layer_norm.bias": rnd(h, scale=0.05),
    }
    return t


def build_tiny_models(
    out_dir: str | os.PathLike,
    arch: str = "llama",
    texts: list[str] | None = None,
    n_mels: int = 80,
    vocab_size: int = 384,
    seed: int = 0,
) -> dict[str, str]:
    """Write ``out_dir/whisper`` and ``out_dir/llm``: the stand-ins a real recipe's test runs on.

    A real recipe's configs name a Whisper and an LLM directory (whisper-large-v2,
    Llama-3.1-8B-Instruct); with these two in their place, every stage of the recipe runs
    as it would on the real ones, in seconds.  ``texts`` (the corpus' transcripts) train the
    tokenizer, so that they are encoded in few tokens.  The pair appears only once complete.
    """
    with atomic_dir(out_dir) as tmp:
        build_tiny_whisper(tmp / "whisper", n_mels=n_mels, seed=seed, init_std=0.1)
        build_tiny_llm(tmp / "llm", arch, texts, vocab_size=vocab_size, seed=seed)
    out = Path(out_dir)
    return {"whisper": str(out / "whisper"), "llm": str(out / "llm")}

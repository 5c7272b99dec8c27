"""Parameter counts at the real sizes, on the meta device (nothing allocated or loaded)."""

from __future__ import annotations

import torch

from soundwave.models.config import SoundwaveConfig
from soundwave.models.params import param_report
from soundwave.models.soundwave import build_audio_modules

# whisper-large-v2 encoder width; Llama-3.1-8B shapes; vocab 128256 + <audio_patch>
ENC_DIM, HIDDEN, HEADS, VOCAB = 1280, 4096, 32, 128257


def test_real_size_audio_modules():
    cfg = SoundwaveConfig(encoder_path="unused", llm_path="unused")
    with torch.device("meta"):
        embeddings = torch.nn.Embedding(VOCAB, HIDDEN)
        mods = build_audio_modules(cfg, ENC_DIM, embeddings, HEADS, VOCAB, blank=VOCAB - 1)
        tied = build_audio_modules(
            cfg.replace(ctc_head="llm_embeddings"), ENC_DIM, embeddings, HEADS, VOCAB, VOCAB - 1
        )
    a = mods["adapter"]
    rep = param_report(
        {
            "projection": a.proj,
            "adapter_layer": a.layers,
            "ctc_head": mods["ctc_head"],
            "lookback": mods["bridge"],
        }
    )
    assert rep["projection"]["total"] == 2 * ENC_DIM * HIDDEN + HIDDEN == 10_489_856  # ≈ 10.5 M
    assert rep["adapter_layer"]["total"] == 134_262_784  # ≈ 134 M (attention 67 M + FF 67 M)
    assert rep["ctc_head"]["total"] == HIDDEN * VOCAB == 525_340_672  # ≈ 525 M
    assert rep["lookback"]["total"] == 67_133_440  # ≈ 67 M
    assert all(v["trainable"] == v["total"] for v in rep.values())
    # on the LLM's own embeddings the CTC head is one scale, not 525 M weights
    assert param_report({"ctc_head": tied["ctc_head"]})["ctc_head"]["total"] == 1


def test_real_size_llm_and_encoder_on_meta():
    from transformers import LlamaConfig, LlamaForCausalLM, WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    llama = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=HEADS,
        num_key_value_heads=8,
    )
    whisper = WhisperConfig(
        d_model=ENC_DIM,
        encoder_layers=32,
        encoder_attention_heads=20,
        encoder_ffn_dim=5120,
        num_mel_bins=80,
    )
    with torch.device("meta"):
        llm = LlamaForCausalLM(llama)
        enc = WhisperEncoder(whisper)
    rep = param_report({"llm": llm, "encoder": enc})
    assert abs(rep["llm"]["total"] - 8.03e9) < 0.01e9  # Llama-3.1-8B (+1 row per embedding)
    assert abs(rep["encoder"]["total"] - 0.637e9) < 0.005e9  # whisper-large-v2 encoder

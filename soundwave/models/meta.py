"""A full-size Soundwave model on the ``meta`` device: every module with its real shapes
and dtypes, nothing allocated and no weights, tokenizer or download needed.

The same parts as :class:`~soundwave.models.soundwave.SoundwaveModel` (HF's Whisper
encoder and causal LM, :func:`build_audio_modules`, peft LoRA), built from the
architectures :mod:`soundwave.models.shapes` knows; what memory planning measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from soundwave.models.config import SoundwaveConfig
from soundwave.models.encoder import DTYPES
from soundwave.models.llm import wrap_lora
from soundwave.models.shapes import architecture, hf_config
from soundwave.models.soundwave import build_audio_modules


@dataclass
class MetaModel:
    encoder: nn.Module
    llm: nn.Module  # with LoRA
    audio: dict[str, nn.Module]  # adapter, ctc_head, bridge (those the config has)
    decoder_layers: list[nn.Module]  # the LLM's layers: FSDP's units

    def lora_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.llm.named_parameters() if "lora_" in n]

    def base_llm_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.llm.named_parameters() if "lora_" not in n]


def build_meta_model(cfg: SoundwaveConfig) -> MetaModel:
    """The model ``cfg`` describes, on the meta device (``encoder_path`` and ``llm_path``
    name local dirs with a config.json or models of :data:`~soundwave.models.shapes.KNOWN`)."""
    from transformers import AutoModelForCausalLM
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    enc_arch, llm_arch = architecture(cfg.encoder_path), architecture(cfg.llm_path)
    with torch.device("meta"):
        encoder = WhisperEncoder(hf_config(enc_arch)).to(DTYPES[cfg.encoder_dtype])
        llm = AutoModelForCausalLM.from_config(hf_config(llm_arch), dtype=DTYPES[cfg.llm_dtype])
        # the audio token (the CTC blank) goes after the tokenizer's last token, as
        # add_audio_token does; the embeddings grow only where they have no spare row
        blank = llm_arch.get("tokenizer_size", llm_arch["vocab_size"])
        if blank >= llm.get_input_embeddings().weight.shape[0]:
            llm.resize_token_embeddings(blank + 1, mean_resizing=False)
        text_cfg = llm.config.get_text_config()
        audio = build_audio_modules(
            cfg,
            encoder.config.d_model,
            llm.get_input_embeddings(),
            text_cfg.num_attention_heads,
            blank + 1,
            blank,
        )
        layers = [m for m in llm.modules() if type(m).__name__.endswith("DecoderLayer")]
        llm = wrap_lora(
            llm, cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules
        )
    audio = {k: m.float() for k, m in audio.items() if m is not None}  # trained in fp32
    return MetaModel(encoder, llm, audio, layers)

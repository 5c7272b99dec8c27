"""SoundwaveModel: frozen Whisper encoder -> alignment adapter + CTC head -> shrinking bridge
-> LLM (+LoRA), batched end to end.

``forward(..., ctc_only=True)`` is Stage I's loss (CTC only, no LLM forward); otherwise
LM loss + ctc_weight * CTC.  Which parameters train in which stage is set by
:func:`soundwave.train.stages.apply_stage`; stage dirs are read and written by
:mod:`soundwave.models.stage_dir`.  The encoder and the base LLM are always frozen.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from soundwave.data.encoder_cache import EncoderFrames
from soundwave.errors import UserError
from soundwave.models.adapter import AlignmentAdapter, EmbeddingCTCHead, ctc_greedy, ctc_loss
from soundwave.models.baselines import LinearProjector
from soundwave.models.bridge import ShrinkBridge, SoftTokens, UtteranceVector
from soundwave.models.config import SoundwaveConfig
from soundwave.models.encoder import WhisperAudioEncoder
from soundwave.models.llm import (
    IGNORE_INDEX,
    PromptBuilder,
    SplicePlan,
    add_audio_token,
    embed_splice,
    load_llm,
    load_tokenizer,
    plan_splice,
    stop_token_ids,
    wrap_lora,
)
from soundwave.models.masking import lengths_to_mask
from soundwave.models.params import param_report


def is_base_param(name: str) -> bool:
    """True for weights that come from the pretrained encoder/LLM (never saved per stage)."""
    return name.startswith("encoder.") or (name.startswith("llm.") and "lora_" not in name)


@dataclass
class AudioEncoding:
    embeds: torch.Tensor  # (B, V, H) vectors for the LLM, zero-padded
    lengths: torch.Tensor  # (B,) V_i
    # (B, V) index of each vector's frame (25 Hz, or k-stacked); -1: padding, or the
    # utterance vector (first, when the config has one)
    kept_index: torch.Tensor
    ctc_logits: torch.Tensor | None  # (B, T25, vocab); None for the linear baseline
    frame_lens: torch.Tensor  # (B,) frames before shrinking (25 Hz; k-stacked for linear)


def build_audio_modules(
    cfg: SoundwaveConfig,
    enc_dim: int,
    embeddings: nn.Embedding,
    llm_heads: int,
    vocab: int,
    blank: int,
) -> dict[str, nn.Module | None]:
    """The trainable audio-side modules: ``adapter``, ``ctc_head``, ``bridge``."""
    hidden = embeddings.weight.shape[1]
    if cfg.bridge == "linear":
        return {
            "adapter": None,
            "ctc_head": None,
            "bridge": LinearProjector(enc_dim, hidden, cfg.stack, cfg.linear_hidden),
        }
    heads = cfg.adapter_heads or llm_heads
    adapter = AlignmentAdapter(
        enc_dim,
        hidden,
        stack=cfg.stack,
        num_layers=cfg.adapter_layers,
        heads=heads,
        ff_mult=cfg.adapter_ff_mult,
        dropout=cfg.adapter_dropout,
        temporal=cfg.adapter_temporal,
    )
    bridge = ShrinkBridge(
        hidden,
        llm_heads,
        blank,
        selection="all" if cfg.bridge == "none" else cfg.bridge,
        lookback="none" if cfg.bridge == "none" else cfg.lookback,
        dropout=cfg.lookback_dropout,
        soft_tokens=SoftTokens(embeddings, vocab, cfg.soft_tokens_gate)
        if cfg.soft_tokens
        else None,
        utterance_vector=UtteranceVector(hidden) if cfg.utterance_vector else None,
    )
    if cfg.match_embedding_scale:
        rms = float(embeddings.weight[:vocab].detach().float().pow(2).mean().sqrt())
        norms = (adapter.out_norm, getattr(bridge.lookback, "norm", None))
        for norm in (*norms, getattr(bridge.utterance_vector, "norm", None)):
            if norm is not None:
                nn.init.constant_(norm.weight, rms)
    if cfg.ctc_head == "llm_embeddings":
        head: nn.Module = EmbeddingCTCHead(embeddings, vocab)
    else:
        head = nn.Linear(hidden, vocab, bias=False)
    return {"adapter": adapter, "ctc_head": head, "bridge": bridge}


def enable_checkpointing(llm: nn.Module) -> None:
    """Non-reentrant activation checkpointing (gradients reach LoRA through frozen layers)."""
    kwargs = {"use_reentrant": False}
    if hasattr(llm, "activation_checkpointing_enable"):  # transformers >= 5
        llm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


class SoundwaveModel(nn.Module):
    def __init__(self, cfg: SoundwaveConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = WhisperAudioEncoder.from_config(cfg)
        self.tokenizer = load_tokenizer(cfg.llm_path)
        llm = load_llm(cfg.llm_path, cfg.llm_dtype)
        self.audio_token_id = add_audio_token(self.tokenizer, llm, cfg.audio_token)
        llm.requires_grad_(False)
        if cfg.gradient_checkpointing:
            enable_checkpointing(llm)
        self.llm = llm
        text_cfg = llm.config.get_text_config()
        mods = build_audio_modules(
            cfg,
            self.encoder.dim,
            llm.get_input_embeddings(),
            text_cfg.num_attention_heads,
            len(self.tokenizer),
            self.audio_token_id,
        )
        self.adapter: AlignmentAdapter | None = mods["adapter"]
        self.ctc_head: nn.Module | None = mods["ctc_head"]
        self.bridge: nn.Module = mods["bridge"]
        self.prompts = PromptBuilder(
            self.tokenizer, cfg.system_prompt, cfg.audio_token, cfg.prompt_style
        )
        self.eos_ids = stop_token_ids(self.tokenizer, llm)
        self.has_lora = False
        self.stage: str | None = None
        # weights trained in any stage so far or loaded from a stage dir: what save_stage keeps
        self.trained_names: set[str] = set()

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    @property
    def audio_modules(self) -> dict[str, nn.Module]:
        mods = {"adapter": self.adapter, "ctc_head": self.ctc_head, "bridge": self.bridge}
        return {k: m for k, m in mods.items() if m is not None}

    # ----------------------------------------------------------------- LoRA
    def add_lora(self) -> None:
        """Wrap the LLM with peft LoRA adapters (once)."""
        if not self.has_lora:
            self.llm = wrap_lora(
                self.llm,
                self.cfg.lora_rank,
                self.cfg.lora_alpha,
                self.cfg.lora_dropout,
                self.cfg.lora_target_modules,
            )
            self.has_lora = True

    def lora_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.llm.named_parameters() if "lora_" in n]

    def train(self, mode: bool = True) -> SoundwaveModel:
        """As nn.Module.train, but frozen audio modules stay in eval (no dropout noise on
        features nobody trains); the encoder always is."""
        super().train(mode)
        for module in self.audio_modules.values():
            if not any(p.requires_grad for p in module.parameters()):
                module.eval()
        return self

    # ----------------------------------------------------------------- audio path
    def encoder_frames(
        self,
        feats: torch.Tensor | None,
        feat_lens: torch.Tensor | None,
        encoded: EncoderFrames | None,
        feat_tails: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder frames (B, T50, d) and lengths: stored ones (``encoded``, checked to come
        from this encoder) or the encoder run on the log-mel (and the frames of Whisper's
        window past each end, ``feat_tails``).  Everything after is the same."""
        if encoded is not None:
            encoded.check(self.encoder.cache_id())
            return encoded.frames, encoded.lens
        if feats is None or feat_lens is None:
            raise ValueError("the audio path needs feats and feat_lens, or encoded frames")
        return self.encoder(feats, feat_lens, feat_tails)

    def _adapter_frames(
        self,
        feats: torch.Tensor | None,
        feat_lens: torch.Tensor | None,
        encoded: EncoderFrames | None = None,
        feat_tails: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Adapter output (B, T25, H), 25 Hz lengths, CTC logits (B, T25, vocab)."""
        if self.adapter is None or self.ctc_head is None:
            raise UserError("bridge=linear has no CTC head")
        return self.adapt_frames(*self.encoder_frames(feats, feat_lens, encoded, feat_tails))

    def adapt_frames(
        self, x: torch.Tensor, lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder frames -> adapter output (B, T25, H), 25 Hz lengths, CTC logits."""
        device = self.adapter.proj.weight.device
        frames, lens = self.adapter(x.to(device), lens.to(device))
        return frames, lens, self.ctc_head(frames)

    def encode_audio(
        self,
        feats: torch.Tensor | None = None,
        feat_lens: torch.Tensor | None = None,
        encoded: EncoderFrames | None = None,
        feat_tails: torch.Tensor | None = None,
    ) -> AudioEncoding:
        """Features (or stored encoder frames) -> the vectors that replace the audio placeholder."""
        return self.encode_frames(*self.encoder_frames(feats, feat_lens, encoded, feat_tails))

    def encode_frames(self, x: torch.Tensor, lens: torch.Tensor) -> AudioEncoding:
        """Encoder frames (B, T50, d) and lengths -> the LLM's audio vectors: adapter, CTC
        head and bridge (long-form decoding runs them on each piece's frames)."""
        if self.cfg.bridge == "linear":
            emb, lens = self.bridge(x.to(self.device), lens.to(self.device))
            index = torch.arange(emb.shape[1], device=emb.device).expand(emb.shape[0], -1)
            index = index.masked_fill(~lengths_to_mask(lens, emb.shape[1]), -1)
            return AudioEncoding(emb, lens, index, None, lens)
        frames, lens, logits = self.adapt_frames(x, lens)
        emb, counts, index = self.bridge(frames, lens, logits)
        return AudioEncoding(emb, counts, index, logits, lens)

    def _ctc_targets(self, transcripts: list[str] | None, batch: int) -> list[list[int]]:
        if transcripts is None:
            return [[] for _ in range(batch)]
        if len(transcripts) != batch:
            raise ValueError(f"{len(transcripts)} transcripts for a batch of {batch}")
        return [
            self.tokenizer(t, add_special_tokens=False).input_ids if t else [] for t in transcripts
        ]

    # ----------------------------------------------------------------- training
    def forward(
        self,
        feats: torch.Tensor | None = None,
        feat_lens: torch.Tensor | None = None,
        instructions: list[str] | None = None,
        targets: list[str] | None = None,
        transcripts: list[str] | None = None,
        ctc_only: bool = False,
        encoded: EncoderFrames | None = None,
        feat_tails: torch.Tensor | None = None,
        encoding: AudioEncoding | None = None,
    ) -> dict[str, torch.Tensor]:
        """The training loss of a batch of log-mel ``feats``, of stored ``encoded`` frames or
        of an ``encoding`` already made by :meth:`encode_audio` (which it then reuses)."""
        if encoding is not None:
            batch = len(encoding.lengths)
        else:
            batch = len(encoded.lens) if encoded is not None else len(feats)
        ctc_targets = self._ctc_targets(transcripts, batch)
        if ctc_only:
            _, lens, logits = self._adapter_frames(feats, feat_lens, encoded, feat_tails)
            loss = ctc_loss(logits, lens, ctc_targets, self.audio_token_id)
            return {"loss": loss, "ctc_loss": loss}
        if targets is None or len(targets) != batch:
            raise ValueError("forward needs one target text per utterance (or ctc_only=True)")
        enc = encoding or self.encode_audio(feats, feat_lens, encoded, feat_tails)
        if enc.ctc_logits is not None:
            ctc = ctc_loss(enc.ctc_logits, enc.frame_lens, ctc_targets, self.audio_token_id)
        else:
            ctc = enc.embeds.new_zeros((), dtype=torch.float32)
        target_ids = [
            [*self.tokenizer(t, add_special_tokens=False).input_ids, self.tokenizer.eos_token_id]
            for t in targets
        ]
        plan = self._plan(enc, instructions, target_ids, left_pad=False)
        lm_loss, num_tokens = self._lm_loss(enc.embeds, plan)
        return {
            "loss": lm_loss + self.cfg.ctc_weight * ctc,
            "lm_loss": lm_loss,
            "ctc_loss": ctc,
            "num_tokens": num_tokens,
        }

    def _plan(
        self,
        enc: AudioEncoding,
        instructions: list[str] | None,
        target_ids: list[list[int]] | None,
        left_pad: bool,
    ) -> SplicePlan:
        batch = enc.embeds.shape[0]
        instructions = instructions if instructions is not None else [""] * batch
        if len(instructions) != batch:
            raise ValueError(f"{len(instructions)} instructions for a batch of {batch}")
        return plan_splice(
            [self.prompts(i) for i in instructions],
            enc.lengths.tolist(),
            enc.embeds.shape[1],
            self.tokenizer.pad_token_id,
            target_ids,
            left_pad=left_pad,
            device=self.device,
        )

    def _lm_loss(self, audio: torch.Tensor, plan: SplicePlan) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean token CE over the targets; logits only where a label is (memory)."""
        base = self.llm.get_base_model() if self.has_lora else self.llm
        embeds = embed_splice(base.get_input_embeddings(), audio.to(self.device), plan)
        hidden = base.get_decoder()(
            inputs_embeds=embeds,
            attention_mask=plan.attention_mask,
            position_ids=plan.position_ids,
            use_cache=False,
        ).last_hidden_state
        labels = plan.labels[:, 1:]
        sel = labels != IGNORE_INDEX
        logits = base.get_output_embeddings()(hidden[:, :-1][sel])
        if self.cfg.lm_loss_average == "token":
            return F.cross_entropy(logits.float(), labels[sel]), sel.sum()
        # every utterance weighs the same, however long its answer: a token weighs
        # 1 / its utterance's target length
        losses = F.cross_entropy(logits.float(), labels[sel], reduction="none")
        counts = sel.sum(1)
        weights = counts.unsqueeze(1).expand_as(sel)[sel]
        return (losses / weights).sum() / (counts > 0).sum(), sel.sum()

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def generate(
        self,
        feats: torch.Tensor | None,
        feat_lens: torch.Tensor | None,
        instructions: list[str],
        max_new_tokens: int = 64,
        num_beams: int = 1,
        do_sample: bool = False,
        encoding: AudioEncoding | None = None,
        feat_tails: torch.Tensor | None = None,
        **gen_kwargs: Any,
    ) -> list[str]:
        """Batched decoding: left-padded inputs_embeds, KV cache, HF generate.

        ``encoding`` (from :meth:`encode_audio` of the same batch) skips the audio encoder.
        """
        ids = self.generate_ids(
            feats,
            feat_lens,
            instructions,
            max_new_tokens,
            num_beams,
            do_sample,
            encoding,
            feat_tails,
            **gen_kwargs,
        )
        return [s.strip() for s in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    @torch.no_grad()
    def generate_ids(
        self,
        feats: torch.Tensor | None,
        feat_lens: torch.Tensor | None,
        instructions: list[str],
        max_new_tokens: int = 64,
        num_beams: int = 1,
        do_sample: bool = False,
        encoding: AudioEncoding | None = None,
        feat_tails: torch.Tensor | None = None,
        **gen_kwargs: Any,
    ) -> list[list[int]]:
        """As :meth:`generate`, the new token ids of each utterance up to (without) EOS."""
        was_training = self.training
        self.eval()
        try:
            enc = (
                encoding
                if encoding is not None
                else self.encode_audio(feats, feat_lens, None, feat_tails)
            )
            plan = self._plan(enc, instructions, None, left_pad=True)
            embeds = embed_splice(self.llm.get_input_embeddings(), enc.embeds, plan)
            gen_kwargs.setdefault("suppress_tokens", [self.audio_token_id])
            # one process decodes alone, also under FSDP (unsharded for it): transformers
            # would otherwise step in lockstep with the other ranks, which are not decoding
            gen_kwargs.setdefault("synced_gpus", False)
            with warnings.catch_warnings():
                # n-gram limits apply to the answer only, as wanted: the prompt is embeddings
                warnings.filterwarnings("ignore", message=".*no_repeat_ngram_size.*inputs_embeds")
                out = self.llm.generate(
                    inputs_embeds=embeds,
                    attention_mask=plan.attention_mask,
                    max_new_tokens=max_new_tokens,
                    num_beams=num_beams,
                    do_sample=do_sample,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.eos_ids,
                    **gen_kwargs,
                )
        finally:
            self.train(was_training)
        eos = set(self.eos_ids)
        rows = []
        for row in out.tolist():
            cut = next((i for i, t in enumerate(row) if t in eos), len(row))
            rows.append(row[:cut])
        return rows

    @torch.no_grad()
    def ctc_transcribe(
        self,
        feats: torch.Tensor | None = None,
        feat_lens: torch.Tensor | None = None,
        encoded: EncoderFrames | None = None,
        feat_tails: torch.Tensor | None = None,
    ) -> list[str]:
        """Greedy CTC from the adapter (collapse repeats, drop blanks, detokenize)."""
        _, lens, logits = self._adapter_frames(feats, feat_lens, encoded, feat_tails)
        return self.ctc_text(logits, lens)

    def ctc_text(self, ctc_logits: torch.Tensor, frame_lens: torch.Tensor) -> list[str]:
        """Greedy CTC transcripts of given adapter logits (e.g. an :class:`AudioEncoding`'s)."""
        ids = ctc_greedy(ctc_logits, frame_lens, self.audio_token_id)
        return [s.strip() for s in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def fsdp_wrap_modules(self) -> set[type[nn.Module]]:
        """Module classes that FSDP shards as units: the LLM's decoder layers."""
        return {type(m) for m in self.llm.modules() if type(m).__name__.endswith("DecoderLayer")}

    def fsdp_replicated_modules(self) -> list[nn.Module]:
        """Modules FSDP leaves whole on every rank: the frozen encoder (run without
        gradients, so sharding it would only add an all-gather per batch)."""
        return [self.encoder]

    def saved_parameter_names(self) -> set[str]:
        """The weights a stage dir holds: those trainable now or in an earlier stage of
        this model (or loaded from a stage dir), and LoRA; never the base encoder's or LLM's."""
        return {
            n
            for n, p in self.named_parameters()
            if not is_base_param(n) and (n in self.trained_names or p.requires_grad or "lora_" in n)
        }

    def param_report(self) -> dict[str, dict[str, int]]:
        groups: dict[str, Any] = {"encoder": self.encoder}
        if self.adapter is not None:
            groups |= {
                "adapter": self.adapter,
                "adapter.proj": self.adapter.proj,
                "adapter.layers": self.adapter.layers,
                "adapter.out_norm": self.adapter.out_norm,
            }
        if self.ctc_head is not None:
            groups["ctc_head"] = self.ctc_head
        groups["bridge"] = self.bridge
        groups["llm"] = [p for n, p in self.llm.named_parameters() if "lora_" not in n]
        groups["lora"] = self.lora_parameters()
        return param_report(groups, total=self.parameters())

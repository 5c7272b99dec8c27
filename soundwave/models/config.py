"""SoundwaveConfig: every choice that shapes a Soundwave model, as a JSON-able dataclass."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from soundwave.errors import UserError
from soundwave.fileio import atomic_write

OFFICIAL_SYSTEM_PROMPT = (
    "You are a helpful language and speech assistant. You are able to understand the speech "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language."
)

_CHOICES = {
    "encoder_input": ("pad30", "variable"),
    "encoder_dtype": ("float32", "float16", "bfloat16"),
    "llm_dtype": ("float32", "float16", "bfloat16"),
    "bridge": ("runs", "peaks", "none", "linear"),
    "lookback": ("kept", "dropped", "none"),
    "prompt_style": ("chat_template", "official"),
    "ctc_head": ("linear", "llm_embeddings"),
    "lm_loss_average": ("token", "utterance"),
}


@dataclass
class SoundwaveConfig:
    """Model configuration; the defaults are our recommended training setup.

    ``import_official`` sets the released model's choices: ``encoder_input="pad30"``,
    ``encoder_full_window=True``, ``adapter_temporal=False``, ``bridge="runs"``,
    ``lookback="kept"``, ``prompt_style="official"``.
    """

    encoder_path: str  # HF Whisper dir (WhisperModel or WhisperForConditionalGeneration)
    llm_path: str  # HF causal-LM dir incl. tokenizer (or a released Soundwave dir)
    # "pad30": pad every 30 s window with Whisper's silence value (as Whisper was trained);
    # "variable": no padding, positional embeddings sliced, padded frames masked.
    encoder_input: str = "variable"
    encoder_chunk_s: float = 30.0  # longer audio: encode windows of this size and concatenate
    # pad30 only: count the whole padded window as speech (the released model's CTC and shrink
    # see all 750 frames). False: only the frames of the real audio are kept.
    encoder_full_window: bool = False
    encoder_dtype: str = "float32"
    llm_dtype: str = "float32"
    # "runs" (official) | "peaks" | "none" (25 Hz adapter, unshrunk) | "linear" (baseline)
    bridge: str = "runs"
    stack: int = 2  # frames concatenated by the adapter; k for "linear"
    linear_hidden: int = 2048  # "linear": Linear-ReLU-Linear width; 0 = one Linear
    adapter_layers: int = 1
    adapter_temporal: bool = True  # False = the released frame-wise quirk
    adapter_heads: int | None = None  # default: the LLM's num_attention_heads
    adapter_ff_mult: int = 2
    adapter_dropout: float = 0.1
    lookback: str = "kept"  # key mask: attend to "kept" (official) | "dropped" frames | "none"
    lookback_dropout: float = 0.1
    ctc_weight: float = 0.3
    # LM loss over a batch: "token" = mean over all target tokens (a one-word answer such
    # as a gender label then weighs 1/10 of a transcript); "utterance" = mean over the
    # utterances of each one's token mean, so every task weighs what its share of the
    # batch is.
    lm_loss_average: str = "token"
    # "linear" (official): a free Linear(hidden -> vocab). "llm_embeddings": CTC logits are a
    # learned scale times the cosine between an adapter frame and the LLM's own (frozen) input
    # embedding of each token, so a frame that wins CTC for a token points where the LLM's
    # embedding of that token points: the adapter's output is text-like by construction
    # (and the head has one parameter instead of hidden x vocab).  On mini_synth it did not
    # pay (no better WER, gender learnt more slowly), so it is off by default.
    ctc_head: str = "linear"
    # Start the adapter's and the look-back's output LayerNorm gains at the RMS of the LLM's
    # input embeddings, so that audio vectors enter the LLM at the scale of its token
    # embeddings (a unit-gain LayerNorm gives ~sqrt(hidden)/|embedding| times larger ones).
    match_embedding_scale: bool = False
    # Add to every bridge output its frame's CTC posterior-weighted LLM input embedding
    # (a "soft token": what the CTC head hears there, in the LLM's own embedding space);
    # the adapter's vector is then gated, starting at soft_tokens_gate times the RMS of
    # the token embeddings.  Not in the released model (which feeds the adapter vectors).
    soft_tokens: bool = False
    soft_tokens_gate: float = 0.5
    # One more position before the kept vectors: attentive mean and standard deviation of
    # all adapter frames (bridge.UtteranceVector), for what belongs to the whole utterance
    # (speaker, manner) rather than to a token.  Not in the released model.
    utterance_vector: bool = False
    lora_rank: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    system_prompt: str = OFFICIAL_SYSTEM_PROMPT
    audio_token: str = "<audio_patch>"
    # "chat_template": tokenizer.apply_chat_template; "official": the released token layout
    # (run_inference.py: Llama-3 header tokens assembled by hand, "\n" after headers).
    prompt_style: str = "chat_template"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for key, allowed in _CHOICES.items():
            value = getattr(self, key)
            if value not in allowed:
                raise UserError(f"config: {key}={value!r} is not one of {', '.join(allowed)}")
        if self.stack < 1:
            raise UserError(f"config: stack must be >= 1, got {self.stack}")
        if self.adapter_layers < 0:
            raise UserError(f"config: adapter_layers must be >= 0, got {self.adapter_layers}")
        frames = round(self.encoder_chunk_s * 100)
        if not 2 <= frames <= 3000 or frames % 2:
            raise UserError(
                f"config: encoder_chunk_s={self.encoder_chunk_s} must give an even number of "
                "10 ms frames between 0.02 s and 30 s"
            )
        if self.soft_tokens and not self.has_ctc:
            raise UserError("config: soft_tokens needs a CTC head (not bridge=linear)")
        if self.utterance_vector and not self.has_ctc:
            raise UserError(
                "config: utterance_vector needs the shrinking bridge (not bridge=linear)"
            )
        if self.encoder_full_window and self.encoder_input != "pad30":
            raise UserError("config: encoder_full_window needs encoder_input=pad30")

    @property
    def has_ctc(self) -> bool:
        return self.bridge != "linear"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str | os.PathLike | None = None) -> SoundwaveConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"unknown model config keys: {', '.join(unknown)}", path)
        try:
            return cls(**d)
        except TypeError as err:  # missing required keys
            raise UserError(f"bad model config: {err}", path) from None

    def replace(self, **overrides: Any) -> SoundwaveConfig:
        return SoundwaveConfig.from_dict({**self.to_dict(), **overrides})

    def to_json(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
        data = {"model": self.to_dict(), **(extra or {})}
        with atomic_write(path) as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> SoundwaveConfig:
        """Read a file written by :meth:`to_json` (or a bare dict of fields)."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise UserError("model config not found", path) from None
        except json.JSONDecodeError as err:
            raise UserError(f"invalid JSON: {err.msg}", path, err.lineno) from None
        return cls.from_dict(data.get("model", data), path)

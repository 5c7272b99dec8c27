"""The LLM side: loading, the audio placeholder token, prompts, and splicing audio vectors.

A prompt holds one ``<audio_patch>`` placeholder; each utterance's V_i audio vectors
replace it.  ``plan_splice`` lays out a batch (right padding for training, left padding
for generation) as index tensors and ``embed_splice`` builds ``inputs_embeds`` from them
with batched gathers.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from torch import nn

from soundwave.errors import UserError
from soundwave.models.encoder import DTYPES
from soundwave.models.weights import require_dir

IGNORE_INDEX = -100
# config.json keys of a released Soundwave checkpoint that a LlamaConfig does not know
SOUNDWAVE_CONFIG_KEYS = (
    "audio_tower",
    "adapter_size",
    "audio_patch_token",
    "audio_patch_size",
    "llm_pad_token_id",
)


def read_model_config(model_dir: str | os.PathLike) -> dict:
    path = require_dir(model_dir, "model") / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError("no config.json: not an HF model directory", model_dir) from None
    except json.JSONDecodeError as err:
        raise UserError(f"invalid JSON: {err.msg}", path, err.lineno) from None


def load_llm(path: str | os.PathLike, dtype: str = "float32") -> nn.Module:
    """An HF causal LM from a local dir; a released Soundwave dir loads as its Llama part."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    raw = read_model_config(path)
    kwargs = {"dtype": DTYPES[dtype]}
    if raw.get("model_type") == "Soundwave":
        fields = {k: v for k, v in raw.items() if k not in SOUNDWAVE_CONFIG_KEYS}
        fields.pop("model_type", None)
        fields["architectures"] = ["LlamaForCausalLM"]
        return LlamaForCausalLM.from_pretrained(str(path), config=LlamaConfig(**fields), **kwargs)
    try:
        return AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError, SafetensorError) as err:  # the last: a damaged weights file
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserError(f"cannot load the LLM: {first}", path) from None


def load_tokenizer(path: str | os.PathLike):
    from transformers import AutoTokenizer

    require_dir(path, "LLM")
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load the LLM tokenizer: {err}", path) from None
    if tok.pad_token_id is None:  # Llama-3 has none; padding is masked anyway
        tok.pad_token = tok.eos_token
    return tok


def add_audio_token(tokenizer, llm: nn.Module, token: str) -> int:
    """Make ``token`` a special token with an embedding row; return its id (the CTC blank).

    New rows are the mean of the existing rows (deterministic, so a reloaded model is the
    same model; the row is never fed, as the placeholder is replaced by audio vectors).
    """
    if token not in tokenizer.get_vocab():
        tokenizer.add_tokens([token], special_tokens=True)
    token_id = tokenizer.convert_tokens_to_ids(token)
    rows = llm.get_input_embeddings().weight.shape[0]
    if token_id >= rows:
        llm.resize_token_embeddings(token_id + 1, mean_resizing=False)
        with torch.no_grad():
            for emb in (llm.get_input_embeddings(), llm.get_output_embeddings()):
                if emb is not None:
                    emb.weight[rows:] = emb.weight[:rows].mean(0)
    return token_id


def stop_token_ids(tokenizer, llm: nn.Module) -> list[int]:
    """The ids that end an answer: the tokenizer's eos and the LLM's generation eos ids
    (Llama-3 instruct models stop at ``<|eot_id|>`` as well as ``<|end_of_text|>``)."""
    gen_eos = getattr(getattr(llm, "generation_config", None), "eos_token_id", None)
    eos = {tokenizer.eos_token_id, *(gen_eos if isinstance(gen_eos, list) else [gen_eos])}
    return sorted(e for e in eos if e is not None)


class PromptBuilder:
    """Token ids before and after the audio placeholder for an instruction (cached)."""

    def __init__(self, tokenizer, system: str, audio_token: str, style: str = "chat_template"):
        self.tok = tokenizer
        self.system = system
        self.audio_token = audio_token
        self.audio_id = tokenizer.convert_tokens_to_ids(audio_token)
        self.style = style
        self._cache: dict[str, tuple[list[int], list[int]]] = {}
        if style == "chat_template" and not getattr(tokenizer, "chat_template", None):
            raise UserError("the LLM tokenizer has no chat template (use prompt_style=official?)")

    def __call__(self, instruction: str) -> tuple[list[int], list[int]]:
        if instruction not in self._cache:
            ids = (
                self._chat(instruction)
                if self.style == "chat_template"
                else self._official(instruction)
            )
            where = [i for i, t in enumerate(ids) if t == self.audio_id]
            if len(where) != 1:
                raise UserError(
                    f"prompt must hold one {self.audio_token}, got {len(where)}: {instruction!r}"
                )
            self._cache[instruction] = (ids[: where[0]], ids[where[0] + 1 :])
        return self._cache[instruction]

    def _chat(self, instruction: str) -> list[int]:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": "\n" + self.audio_token + instruction})
        text = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.tok(text, add_special_tokens=False).input_ids

    def _official(self, instruction: str) -> list[int]:
        """The released run_inference.py layout: Llama-3 header ids assembled by hand, each
        piece tokenized on its own (with whatever special tokens the tokenizer adds)."""
        vocab = self.tok.get_vocab()
        names = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
        missing = [n for n in names if n not in vocab]
        if missing:
            raise UserError(f"prompt_style=official needs Llama-3 header tokens; missing {missing}")
        bot, sh, eh, eot = (vocab[n] for n in names)

        def enc(s: str) -> list[int]:
            return self.tok(s).input_ids

        ids = [bot, sh, *enc("system"), eh, *enc("\n"), *enc(self.system), eot]
        ids += [sh, *enc("user"), eh, *enc("\n" + self.audio_token), *enc(instruction), eot]
        ids += [sh, *enc("assistant"), eh, *enc("\n")]
        return ids


@dataclass
class SplicePlan:
    """A batch laid out for the LLM.  ``audio_src`` indexes the flattened (B*V) audio
    vectors (-1 where a text token is), ``token_ids`` holds the text ids (pad elsewhere)."""

    token_ids: torch.Tensor  # (B, L)
    audio_src: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    labels: torch.Tensor | None  # (B, L), IGNORE_INDEX off the targets

    @property
    def position_ids(self) -> torch.Tensor:
        return (self.attention_mask.long().cumsum(1) - 1).clamp(min=0)


def plan_splice(
    prompts: list[tuple[list[int], list[int]]],
    audio_lens: list[int],
    audio_width: int,
    pad_id: int,
    targets: list[list[int]] | None = None,
    left_pad: bool = False,
    device: torch.device | str = "cpu",
) -> SplicePlan:
    """Lay out [prefix, audio x V_i, suffix, target] per utterance, padded to one length."""
    rows_ids, rows_src, rows_lab = [], [], []
    for b, ((prefix, suffix), v) in enumerate(zip(prompts, audio_lens)):
        target = targets[b] if targets is not None else []
        rows_ids.append(prefix + [pad_id] * v + suffix + target)
        rows_src.append(
            [-1] * len(prefix)
            + list(range(b * audio_width, b * audio_width + v))
            + [-1] * (len(suffix) + len(target))
        )
        rows_lab.append([IGNORE_INDEX] * (len(prefix) + v + len(suffix)) + target)
    width = max(len(r) for r in rows_ids)

    def pad(rows: list[list[int]], value: int) -> torch.Tensor:
        out = [
            ([value] * (width - len(r)) + r) if left_pad else (r + [value] * (width - len(r)))
            for r in rows
        ]
        return torch.tensor(out, dtype=torch.long, device=device)

    mask = pad([[1] * len(r) for r in rows_ids], 0)
    return SplicePlan(
        token_ids=pad(rows_ids, pad_id),
        audio_src=pad(rows_src, -1),
        attention_mask=mask,
        labels=pad(rows_lab, IGNORE_INDEX) if targets is not None else None,
    )


def embed_splice(embedding: nn.Module, audio: torch.Tensor, plan: SplicePlan) -> torch.Tensor:
    """inputs_embeds (B, L, H): text embeddings with the audio vectors gathered in."""
    text = embedding(plan.token_ids)
    b, width, h = audio.shape
    flat = audio.reshape(b * width, h).to(text.dtype)
    picked = flat.index_select(0, plan.audio_src.clamp(min=0).reshape(-1)).reshape(text.shape)
    return torch.where((plan.audio_src >= 0).unsqueeze(-1), picked, text)


def wrap_lora(
    llm: nn.Module, rank: int, alpha: float, dropout: float, target_modules: Sequence[str]
) -> nn.Module:
    """``llm`` wrapped with peft LoRA adapters on ``target_modules``."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            return get_peft_model(llm, lora)
    except ValueError as err:  # e.g. target modules not found in this LLM
        raise UserError(f"cannot add LoRA: {err}") from None

"""A tiny Llama/Qwen2 causal LM, its text pretraining objective and HF-layout saving.

The default sizes (hidden 192, 4 layers, 4 query / 2 KV heads, MLP 768) give about
2.6 M parameters with a 1000-piece vocabulary: the size that reached perplexity ~2.6 on
synthetic task text in about a minute on 2 CPU cores, and the same head layout as the
real models (grouped-query attention, RoPE, RMSNorm, SwiGLU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from soundwave.fileio import atomic_dir
from soundwave.offline.standin.prompts import LM_TASK, record_fields
from soundwave.offline.standin.text_data import IGNORE_INDEX, TextSFTCollator, load_records
from soundwave.score.metrics import task_score

__all__ = [
    "CausalLMPretrainer",
    "TextSFTCollator",
    "build_llm",
    "count_parameters",
    "load_records",
    "save_llm",
    "text_task_scores",
]


def build_llm(config: PretrainedConfig, seed: int = 0) -> PreTrainedModel:
    """A freshly initialised causal LM for ``config`` (deterministic for a given seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


class CausalLMPretrainer(nn.Module):
    """Next-token objective over a batch of :class:`TextSFTCollator`.

    ``forward(input_ids, attention_mask, labels)`` returns ``{"loss", "ntokens"}``: the
    mean cross entropy over labelled tokens (0, not NaN, when a batch has none left after
    truncation) and how many there were.
    """

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        targets = labels[:, 1:]
        ntokens = (targets != IGNORE_INDEX).sum()
        total = F.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(),
            targets.flatten(),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        return {"loss": total / ntokens.clamp(min=1), "ntokens": ntokens}


@torch.no_grad()
def text_task_scores(
    model: PreTrainedModel,
    collator: TextSFTCollator,
    records: Sequence[Mapping[str, Any]],
    max_per_task: int = 64,
    max_new_tokens: int = 48,
    batch_size: int = 32,
) -> dict[str, float]:
    """Greedy answers of ``model`` to the first ``max_per_task`` records of every task,
    scored with the task's metric: ``{"text_<task>_<metric>": value}``.  An answer gets at
    most twice the tokens of the batch's longest reference (+ 4), and ``max_new_tokens``.

    These are the LLM's skills on clean text, the ceiling of what the Soundwave stages
    can carry over to speech (a model that cannot repeat a sentence it is shown will not
    transcribe one it hears).
    """
    tok = collator.tokenizer
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r["task"] != LM_TASK:
            by_task.setdefault(record_fields(r)[0], []).append(r)
    was_training = model.training
    model.eval()
    scores = {}
    try:
        for task, rs in sorted(by_task.items()):
            rs = rs[:max_per_task]
            hyps = []
            for start in range(0, len(rs), batch_size):
                batch = rs[start : start + batch_size]
                prompts = [collator.prompt_ids(r) for r in batch]
                longest = max(len(tok.encode(r["target"], add_special_tokens=False)) for r in batch)
                width = max(map(len, prompts))
                ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in prompts])
                mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
                out = model.generate(
                    input_ids=ids.to(model.device),
                    attention_mask=mask.to(model.device),
                    max_new_tokens=min(max_new_tokens, 2 * longest + 4),
                    do_sample=False,
                    eos_token_id=tok.eos_token_id,
                    pad_token_id=tok.pad_token_id,
                )
                hyps += [
                    s.strip() for s in tok.batch_decode(out[:, width:], skip_special_tokens=True)
                ]
            metric, value = task_score(task, [r["target"] for r in rs], hyps)
            scores[f"text_{task}_{metric}"] = value
    finally:
        model.train(was_training)
    return scores


def save_llm(
    model: PreTrainedModel | CausalLMPretrainer, tokenizer: PreTrainedTokenizerBase, out_dir: Path
) -> None:
    """Save the LM and its tokenizer to ``out_dir`` (HF layout, safetensors) so that
    ``AutoModelForCausalLM.from_pretrained(out_dir)`` and ``AutoTokenizer`` load them."""
    if isinstance(model, CausalLMPretrainer):
        model = model.model
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _check_tokenizer_reloads(tokenizer, tmp, model.config.model_type)


def _check_tokenizer_reloads(
    tokenizer: PreTrainedTokenizerBase, model_dir: Path, model_type: str
) -> None:
    # AutoTokenizer may pick its class from the model type (it always rebuilds a qwen2
    # directory's tokenizer as Qwen2's byte-level one): catch a tokenizer that the saved
    # directory would not give back.
    probe = "Die Straße ist 12 m breit, the lights are on."
    again = AutoTokenizer.from_pretrained(model_dir)
    if again.encode(probe) != tokenizer.encode(probe):
        raise ValueError(
            f"AutoTokenizer reloads this {type(tokenizer).__name__} as a different "
            f"{type(again).__name__} beside a {model_type} model: train the tokenizer "
            "in the style of the LM's architecture (train_tokenizer(style=...))"
        )

"""Text-only task records and their collation into chat-formatted LM batches.

A record is one JSON object per line of ``<work>/text/train.jsonl`` (written by the
corpus generator): ``{"task": "asr"|"st"|"qa"|..., "input": str, "target": str}``, or
``{"task": "lm", "text": str}`` (``target`` or ``input`` are read when ``text`` is
absent) for plain language-model text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from soundwave.errors import UserError
from soundwave.offline.standin.prompts import LM_TASK, SYSTEM_PROMPT, user_prompt

IGNORE_INDEX = -100


def load_records(path: Path) -> list[dict[str, Any]]:
    """Read and check a ``.jsonl`` file of text-task records."""
    path = Path(path)
    if not path.is_file():
        raise UserError("text records not found", path)
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"invalid JSON: {err.msg}", path, lineno) from None
            if not isinstance(rec, dict) or not isinstance(rec.get("task"), str):
                raise UserError('a record must be an object with a "task" string', path, lineno)
            if rec["task"] == LM_TASK:
                if not any(
                    isinstance(rec.get(k), str) and rec[k] for k in ("text", "target", "input")
                ):
                    raise UserError('an "lm" record needs a non-empty "text"', path, lineno)
            elif not all(isinstance(rec.get(k), str) for k in ("input", "target")):
                raise UserError(
                    f'a "{rec["task"]}" record needs "input" and "target" strings', path, lineno
                )
            records.append(rec)
    if not records:
        raise UserError("no records", path)
    return records


def lm_text(record: Mapping[str, Any]) -> str:
    return record.get("text") or record.get("target") or record["input"]


class TextSFTCollator:
    """Turn records into a padded batch ``{"input_ids", "attention_mask", "labels"}``.

    Task records become the tokenizer's chat format (system = the Soundwave system text,
    user = instruction + input, assistant = target) with labels only on the answer and
    the EOS that closes it; ``lm`` records are BOS + text + EOS with every token
    labelled.  Longer sequences are cut to ``max_len`` from the right.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        max_len: int = 512,
        system_prompt: str = SYSTEM_PROMPT,
        seed: int = 0,
    ):
        if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer needs pad and eos tokens")
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.system_prompt = system_prompt
        self.rng = random.Random(seed)  # which instruction phrasing each example gets

    def prompt_ids(self, record: Mapping[str, Any]) -> list[int]:
        """The chat prompt of a task record, up to the assistant's turn."""
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user_prompt(record, self.rng)},
        ]
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True
        )["input_ids"]

    def encode(self, record: Mapping[str, Any]) -> tuple[list[int], list[int]]:
        """Token ids and labels of one record (before truncation and padding)."""
        tok = self.tokenizer
        if record["task"] == LM_TASK:
            bos = [] if tok.bos_token_id is None else [tok.bos_token_id]  # Qwen2 has none
            ids = [*bos, *tok.encode(lm_text(record), add_special_tokens=False), tok.eos_token_id]
            return ids, list(ids)
        prompt = self.prompt_ids(record)
        # prompt + answer alone is how the whole conversation tokenizes (special tokens split
        # the text, no prefix space); the Llama-3 template trims content, so strip it too
        answer = [*tok.encode(record["target"].strip(), add_special_tokens=False), tok.eos_token_id]
        return [*prompt, *answer], [IGNORE_INDEX] * len(prompt) + answer

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        encoded = [self.encode(r) for r in records]
        encoded = [(ids[: self.max_len], labels[: self.max_len]) for ids, labels in encoded]
        width = max(len(ids) for ids, _ in encoded)
        batch = {
            "input_ids": torch.full(
                (len(encoded), width), self.tokenizer.pad_token_id, dtype=torch.long
            ),
            "attention_mask": torch.zeros((len(encoded), width), dtype=torch.long),
            "labels": torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long),
        }
        for i, (ids, labels) in enumerate(encoded):
            batch["input_ids"][i, : len(ids)] = torch.tensor(ids)
            batch["attention_mask"][i, : len(ids)] = 1
            batch["labels"][i, : len(labels)] = torch.tensor(labels)
        return batch

"""Pretraining of the offline recipe's stand-in "pretrained" models, with the shared trainer.

No weights can be downloaded in an offline recipe, so it makes its own: a tiny
Whisper-architecture encoder pretrained with character CTC on the training speech, and a
tiny LLM pretrained on text-only versions of the tasks (it never hears speech).  Both are
saved in HF layout and later loaded with ``from_pretrained(dir)`` exactly like
whisper-large-v2 and Llama-3.1-8B-Instruct would be.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from soundwave.data.batches import BatchFactory, DataConfig, eval_batches
from soundwave.data.collate import speech_counts, stable_seed
from soundwave.data.lhotse_io import load_cuts
from soundwave.errors import UserError
from soundwave.train.optim import OptimConfig
from soundwave.train.run import fit_and_save, resume_hash
from soundwave.train.trainer import Hooks, LoopConfig


@dataclass
class EncoderSpec:
    n_mels: int = 80
    d_model: int = 144
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    gender_weight: float = 0.5  # weight of the speaker-gender objective next to CTC (0: off)


@dataclass
class LLMSpec:
    arch: str = "llama"  # llama | qwen2
    hidden: int = 192
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    vocab_size: int = 1000
    max_len: int = 256


@dataclass
class TextData:
    train: str = ""  # jsonl task records
    valid: str | None = None
    tokenizer_text: list[str] = field(default_factory=list)  # extra text files for the tokenizer
    batch_size: int = 32
    valid_max_records: int = 500
    valid_task_utts: int = 64  # records per task answered and scored in validation (0: off)
    # train on the records of these tasks only (e.g. leave out plain "lm" text); [] = all
    tasks: list[str] = field(default_factory=list)
    # the system text of every chat example; the Soundwave stages must use the same one
    # (model.system_prompt); default: the official Soundwave system prompt
    system_prompt: str | None = None
    # share of the tokenizer's training lines that are prompts (roles, system text,
    # instructions: they occur in every example), so that they get whole-word pieces
    tokenizer_prompt_share: float = 0.1


@dataclass
class StandinConfig:
    kind: str = "encoder"  # encoder | llm
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    llm: LLMSpec = field(default_factory=LLMSpec)
    data: DataConfig = field(default_factory=DataConfig)  # speech, for the encoder
    text: TextData = field(default_factory=TextData)  # text, for the LLM
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        if self.kind not in ("encoder", "llm"):
            raise ValueError(f"kind must be encoder or llm, not '{self.kind}'")


def encoder_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    return {
        "feats": batch["feats"],
        "feat_lens": batch["feat_lens"],
        "texts": batch["transcripts"],
        "genders": batch["genders"],
    }


def build_encoder(cfg: StandinConfig):
    from soundwave.offline.standin.encoder import EncoderCTCPretrainer
    from soundwave.offline.tiny import whisper_config

    spec = cfg.encoder
    whisper = whisper_config(
        n_mels=spec.n_mels,
        d_model=spec.d_model,
        layers=spec.layers,
        heads=spec.heads,
        dropout=spec.dropout,
    )
    return EncoderCTCPretrainer(whisper, seed=cfg.train.seed, gender_weight=spec.gender_weight)


def encoder_valid_fn(cfg: StandinConfig):
    """Greedy character-CTC WER on the first valid utterances."""
    from soundwave.offline.standin.encoder import ctc_greedy_decode
    from soundwave.score.metrics import task_score

    def valid(model) -> dict[str, float]:
        refs, hyps = [], []
        for source in cfg.data.valid:
            cuts = load_cuts(source.cuts, lazy=True)
            for batch in eval_batches(cuts, "asr", cfg.data, cfg.data.valid_max_utts):
                log_probs, lens = model.log_probs(batch["feats"], batch["feat_lens"])
                hyps += ctc_greedy_decode(log_probs, lens)
                refs += batch["transcripts"]
        return {"ctc_wer": task_score("asr", refs, hyps)[1]} if refs else {}

    return valid


def _text_size(record: dict[str, Any]) -> int:
    """Characters of a record's text fields: a cheap proxy of its token count."""
    return sum(len(v) for k, v in record.items() if k != "task" and isinstance(v, str))


class TextBatches:
    """``make_batches(epoch, skip)`` over text records: shuffled per epoch, deterministic.

    Batches are made of records of similar length (sorted within windows of
    ``bucket_window`` batches, the batch order shuffled again): randomly drawn batches of
    the mini_synth task records are a good part padding.  ``collate(records,
    seed)`` makes a batch; its seed depends only on the batch's position, so instruction
    phrasings survive a resume unchanged.
    """

    def __init__(
        self,
        records: list[dict[str, Any]],
        collate: Callable[[list[dict[str, Any]], int], dict[str, Any]],
        batch_size: int,
        seed: int,
        bucket_window: int = 16,
    ):
        self.records, self.collate = records, collate
        self.batch_size, self.seed = batch_size, seed
        self.bucket_window = bucket_window

    def _collate(self, records: list[dict[str, Any]], key: str) -> dict[str, Any]:
        return self.collate(records, stable_seed(key))

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The record indices of every batch of ``epoch``, in order."""
        rng = random.Random(self.seed * 1000003 + epoch)
        order = list(range(len(self.records)))
        rng.shuffle(order)
        window = self.batch_size * max(1, self.bucket_window)
        batches = []
        for w in range(0, len(order), window):
            chunk = sorted(order[w : w + window], key=lambda j: _text_size(self.records[j]))
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        rng.shuffle(batches)
        return batches

    def __call__(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        for i, batch in enumerate(self.epoch_batches(epoch)):
            if i >= skip:
                yield self._collate([self.records[j] for j in batch], f"{self.seed}/{epoch}/{i}")

    def fixed(self) -> Iterator[dict[str, Any]]:
        for i, start in enumerate(range(0, len(self.records), self.batch_size)):
            yield self._collate(self.records[start : start + self.batch_size], f"valid/{i}")


def build_llm(cfg: StandinConfig, exp_dir: Path):
    from soundwave.offline.standin.llm import CausalLMPretrainer, build_llm
    from soundwave.offline.standin.prompts import task_phrasings
    from soundwave.offline.standin.tokenizer import train_tokenizer
    from soundwave.offline.tiny import llm_config

    if not cfg.text.train:
        raise UserError("set text.train (jsonl task records) to pretrain the LLM")
    tok_dir = exp_dir / "tokenizer"
    style = "qwen2" if cfg.llm.arch == "qwen2" else "llama"
    files = [Path(cfg.text.train), *map(Path, cfg.text.tokenizer_text)]
    for path in files:
        if not path.is_file():
            raise UserError("text file not found", path)
    if (tok_dir / "tokenizer_config.json").is_file():  # resuming: keep the same tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    else:
        tokenizer = train_tokenizer(
            files,
            tok_dir,
            cfg.llm.vocab_size,
            task_phrasings(system_prompt=cfg.text.system_prompt),
            style=style,
            extra_share=cfg.text.tokenizer_prompt_share,
        )
    spec = cfg.llm
    config = llm_config(
        tokenizer,
        arch=spec.arch,
        hidden=spec.hidden,
        layers=spec.layers,
        heads=spec.heads,
        kv_heads=spec.kv_heads,
    )
    return CausalLMPretrainer(build_llm(config, seed=cfg.train.seed)), tokenizer


def llm_valid_fn(batches: TextBatches | None, make_collator: Callable[[], Any], task_utts: int):
    """Validation loss and perplexity, and (``task_utts`` > 0) the greedy answers to that
    many records of each task scored with the task's metric (text ASR WER, BLEU, ...)."""
    if batches is None:
        return None
    from soundwave.offline.standin.llm import text_task_scores

    def valid(model) -> dict[str, float]:
        total, count = 0.0, 0
        for batch in batches.fixed():
            out = model(**batch)
            total += float(out["loss"]) * int(out["ntokens"])
            count += int(out["ntokens"])
        loss = total / max(count, 1)
        scores = {"loss": loss, "perplexity": float(torch.tensor(loss).exp())}
        if task_utts > 0:  # a fresh collator: the same phrasings at every validation
            scores |= text_task_scores(model.model, make_collator(), batches.records, task_utts)
        return scores

    return valid


def pretrain(cfg: StandinConfig, exp_dir: str | Path, out_dir: str | Path) -> int:
    """Train the stand-in of ``cfg.kind`` in ``exp_dir`` (resuming there) and save it in HF
    layout to ``out_dir``; returns the number of training steps."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    exp_dir, out_dir = Path(exp_dir), Path(out_dir)
    torch.manual_seed(cfg.train.seed)
    build = encoder_run if cfg.kind == "encoder" else llm_run
    model, batches, hooks, save = build(cfg, exp_dir, out_dir)
    return fit_and_save(
        model,
        batches,
        exp_dir,
        cfg.train,
        cfg.optim,
        save,
        hooks=hooks,
        config_hash=resume_hash(cfg),
    )


def encoder_run(cfg: StandinConfig, exp_dir: Path, out_dir: Path):
    """(model, batches, hooks, save) of the stand-in encoder's pretraining."""
    from soundwave.offline.standin.encoder import save_whisper

    model = build_encoder(cfg)
    batches = BatchFactory(cfg.data, cfg.train.seed, inputs=encoder_inputs)
    hooks = Hooks(encoder_valid_fn(cfg), speech_counts)
    return model, batches, hooks, lambda m, _: save_whisper(m, out_dir)


def llm_run(cfg: StandinConfig, exp_dir: Path, out_dir: Path):
    """(model, batches, hooks, save) of the stand-in LLM's pretraining."""
    from soundwave.offline.standin.llm import save_llm
    from soundwave.offline.standin.prompts import SYSTEM_PROMPT
    from soundwave.offline.standin.text_data import TextSFTCollator, load_records

    exp_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = build_llm(cfg, exp_dir)
    system = cfg.text.system_prompt or SYSTEM_PROMPT

    def collator(seed: int = 0) -> TextSFTCollator:
        return TextSFTCollator(tokenizer, cfg.llm.max_len, system_prompt=system, seed=seed)

    def collate(records: list[dict[str, Any]], seed: int) -> dict[str, Any]:
        return collator(seed)(records)

    records = load_records(Path(cfg.text.train))
    if cfg.text.tasks:
        records = [r for r in records if r["task"] in cfg.text.tasks]
        if not records:
            raise UserError(f"no records of tasks {cfg.text.tasks}", cfg.text.train)
    batches = TextBatches(records, collate, cfg.text.batch_size, cfg.train.seed)
    valid = None
    if cfg.text.valid:
        records = load_records(Path(cfg.text.valid))[: cfg.text.valid_max_records]
        valid = TextBatches(records, collate, cfg.text.batch_size, cfg.train.seed)
    hooks = Hooks(llm_valid_fn(valid, collator, cfg.text.valid_task_utts))
    return model, batches, hooks, lambda m, _: save_llm(m, tokenizer, out_dir)

"""The LLM's answers on the reference transcript: the text topline of a Soundwave model.

The LLM a stage dir's model is built on, without the adapter, the bridge or their LoRA,
answers each utterance's task with the reference transcript where the audio would be: the
task's text-only prompt (:meth:`~soundwave.tasks.registry.Task.text_prompt`, the phrasing
a stand-in LLM is pretrained on) in the model's chat template, under its system prompt.
That is a cascade with a perfect recogniser: the ceiling of what the speech side can hand
over to this LLM.  Written like any stage-6 output (``hyp.txt``, ``ref.txt``,
``decode.json``), so that scoring and RESULTS.md show it as one more row.

Tasks whose answer is not in the words (gender, sound events) have no text-only prompt
and are refused.  The generation settings are the speech decoding's; an n-gram limit
(``no_repeat_ngram_size``) applies to the answer only, as it does there, not to the
transcript in the prompt the answer copies.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from lhotse import CutSet

from soundwave.config import load_config
from soundwave.data.shards import read_shard
from soundwave.decode.decode import DecodeConfig, DecodeResult, DecodeStats, GenerationConfig
from soundwave.decode.outputs import decode_identity, shard_dir, write_results
from soundwave.decode.run import task_dir
from soundwave.errors import UserError
from soundwave.models.llm import load_llm, load_tokenizer, stop_token_ids
from soundwave.models.stage_dir import read_stage_config
from soundwave.tasks.registry import Task, cut_fields, get_task


@dataclass
class TextLLM:
    """A causal LM with its tokenizer and the system prompt its Soundwave model uses."""

    model: torch.nn.Module
    tokenizer: object
    system_prompt: str
    eos_ids: list[int]
    path: str | None = None  # the dir it was loaded from (decode.json hashes its weights)

    @classmethod
    def from_stage_dir(cls, model_dir: str | Path) -> TextLLM:
        """The LLM (and system prompt) of a stage dir's config, as it was before training."""
        cfg = read_stage_config(model_dir)
        tok = load_tokenizer(cfg.llm_path)
        if not getattr(tok, "chat_template", None):
            raise UserError("the LLM tokenizer has no chat template", cfg.llm_path)
        model = load_llm(cfg.llm_path, cfg.llm_dtype).eval()
        if torch.cuda.is_available():
            model = model.to("cuda")
        return cls(model, tok, cfg.system_prompt, stop_token_ids(tok, model), cfg.llm_path)

    def prompt_ids(self, user: str) -> list[int]:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": user})
        text = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return self.tokenizer(text, add_special_tokens=False).input_ids

    @torch.no_grad()
    def answer(self, users: list[str], gen_kwargs: dict) -> list[str]:
        """The decoded answers to a batch of user turns (left-padded, one generate call)."""
        prompts = [self.prompt_ids(u) for u in users]
        width = max(map(len, prompts))
        pad = self.tokenizer.pad_token_id
        device = self.model.get_input_embeddings().weight.device
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        embeds = self.model.get_input_embeddings()(ids)
        with warnings.catch_warnings():
            # from embeddings, the n-gram limit sees the answer only: the wanted behaviour
            warnings.filterwarnings("ignore", message=".*no_repeat_ngram_size.*inputs_embeds")
            out = self.model.generate(
                inputs_embeds=embeds,
                attention_mask=mask,
                pad_token_id=pad,
                eos_token_id=self.eos_ids,
                **{"do_sample": False, **gen_kwargs},
            )
        eos = set(self.eos_ids)
        rows = [
            row[: next((i for i, t in enumerate(row) if t in eos), len(row))]
            for row in out.tolist()
        ]
        return [
            " ".join(s.split()) for s in self.tokenizer.batch_decode(rows, skip_special_tokens=True)
        ]


def text_task(task: str) -> Task:
    """The registry's ``task``, or one line saying that it has no text-only prompt."""
    spec = get_task(task)
    if not spec.text_instructions:
        raise UserError(
            f"task {task!r} has no text-only prompt: its answer is not in the transcript, "
            "so there is no text topline for it"
        )
    return spec


def text_topline_answers(
    llm: TextLLM,
    cuts: CutSet,
    task: str,
    gen: GenerationConfig,
    batch_size: int = 32,
    stats: DecodeStats | None = None,
) -> Iterator[DecodeResult]:
    """The LLM's answer to ``task`` for every cut with a transcript and a target."""
    spec = text_task(task)
    items = []
    for cut in cuts:
        fields = cut_fields(cut)
        ref, user = spec.target(fields), spec.text_prompt(fields)
        if ref is not None and user is not None:
            items.append((cut.id, user, ref, cut.duration))
    kwargs = gen.kwargs(task)
    if gen.do_sample:
        torch.manual_seed(0)
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        t0 = time.time()
        hyps = llm.answer([user for _, user, _, _ in batch], kwargs)
        if stats is not None:
            stats.add([dur for *_, dur in batch], time.time() - t0)
        for (utt, _, ref, dur), hyp in zip(batch, hyps):
            yield DecodeResult(id=utt, task=task, hyp=hyp, ref=ref, duration=dur)


def text_topline_to_dirs(
    model_dir: str,
    cuts_path: str,
    tasks: list[str],
    out_pattern: str,
    config: str | None = None,
    overrides: list[str] | None = None,
    shard: str = "1/1",
) -> None:
    """The stage-6 job of the text topline: every task of shard ``J/N`` of ``cuts_path``
    answered by ``model_dir``'s LLM into ``out_pattern`` (with ``{task}``; merged like any
    decode).  ``config``: a decoding config, whose generation settings are used."""
    cfg = load_config(DecodeConfig, config, overrides or [])
    for task in tasks:  # refused before the model loads
        text_task(task)
    cuts, job, num = read_shard(cuts_path, shard)
    if not Path(model_dir).is_dir():
        raise UserError("model directory not found", model_dir)
    llm = TextLLM.from_stage_dir(model_dir)
    identity = decode_identity(llm.path, cuts_path, f"{job}/{num}")
    for task in tasks:
        out_dir = shard_dir(task_dir(out_pattern, task, len(tasks) > 1), job, num)
        stats = DecodeStats()
        results = list(text_topline_answers(llm, cuts, task, cfg.generation, stats=stats))
        write_results(out_dir, results, stats, identity=identity)
        print(
            f"decode_topline: {task}: {stats.utts} utts in {stats.elapsed_seconds:.1f} s -> {out_dir}"
        )

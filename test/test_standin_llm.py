"""The stand-in LLM: text-task collation, the pretraining objective, HF-layout saving."""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from soundwave.errors import UserError
from soundwave.offline.standin.llm import (
    CausalLMPretrainer,
    TextSFTCollator,
    build_llm,
    count_parameters,
    load_records,
    save_llm,
    text_task_scores,
)
from soundwave.offline.standin.prompts import SYSTEM_PROMPT, task_phrasings, user_prompt
from soundwave.offline.standin.text_data import IGNORE_INDEX
from soundwave.offline.standin.tokenizer import train_tokenizer
from soundwave.offline.tiny import llm_config
from soundwave.tasks.registry import get_task

RECORDS = [
    {"task": "asr", "input": "turn on the lights", "target": "turn on the lights"},
    {"task": "st", "input": "good morning", "target": "guten Morgen"},
    {"task": "st", "input": "the street is big", "target": "die Straße ist groß"},
    {
        "task": "qa",
        "input": "the meeting is at nine",
        "question": "When is the meeting?",
        "target": "at nine",
    },
    {"task": "lm", "text": "bitte schalte das licht in der küche ein"},
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A train.jsonl as the corpus generator writes it, and tokenizers of both styles
    trained on it."""
    root = tmp_path_factory.mktemp("llm")
    records = root / "train.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in RECORDS * 5), encoding="utf-8")
    toks = {
        style: train_tokenizer(
            [records], root / style, vocab_size=400, extra_lines=task_phrasings(["st"]), style=style
        )
        for style in ("llama", "qwen2")
    }
    return records, toks


HEADERS = {
    "llama": (
        "<|start_header_id|>system<|end_header_id|>\n\n",
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    "qwen2": ("<|im_start|>system\n", "<|im_start|>assistant\n"),
}


def tiny_config(tok, arch="llama"):
    return llm_config(tok, arch=arch, hidden=64, layers=2, heads=4, kv_heads=2)


@pytest.mark.parametrize("style", ["llama", "qwen2"])
def test_labels_cover_only_the_answer(corpus, style):
    path, toks = corpus
    tok = toks[style]
    records = load_records(path)[:5]
    batch = TextSFTCollator(tok, max_len=512)(records)
    for i, rec in enumerate(records):
        ids, labels, mask = batch["input_ids"][i], batch["labels"][i], batch["attention_mask"][i]
        n = int(mask.sum())
        assert mask[:n].all() and not mask[n:].any()
        assert (ids[n:] == tok.pad_token_id).all() and (labels[n:] == IGNORE_INDEX).all()
        labelled = labels[:n] != IGNORE_INDEX
        if rec["task"] == "lm":
            assert labelled.all()
            assert ids[n - 1] == tok.eos_token_id
            assert (ids[0] == tok.bos_token_id) == (style == "llama")  # Qwen2 has no BOS
            continue
        answer = [*tok.encode(rec["target"], add_special_tokens=False), tok.eos_token_id]
        start = n - len(answer)
        assert labels[:start].eq(IGNORE_INDEX).all() and labelled[start:].all()
        assert labels[start:n].tolist() == answer == ids[start:n].tolist()
        prompt = tok.decode(ids[:start])
        system, assistant = HEADERS[style]
        assert prompt.startswith(f"{tok.bos_token or ''}{system}{SYSTEM_PROMPT}")
        assert prompt.endswith(assistant)
        assert rec["input"] in prompt


def test_user_prompt_comes_from_the_task_registry():
    rng = random.Random(0)
    asr = user_prompt(RECORDS[0], rng)
    task = get_task("asr")
    expected = [
        t.format(text="turn on the lights", instruction=i)
        for t in task.text_instructions
        for i in task.instructions
    ]
    assert asr in expected
    st = user_prompt(RECORDS[1], rng)  # "st" is the registry's st_en_de
    assert "German" in st and "good morning" in st
    assert user_prompt(RECORDS[3], rng) == "the meeting is at nine\n\nWhen is the meeting?"
    with pytest.raises(UserError, match="question"):
        user_prompt({"task": "qa", "input": "x", "target": "y"}, rng)
    with pytest.raises(UserError, match="unknown task"):
        user_prompt({"task": "nope", "input": "x", "target": "y"}, rng)


def test_truncation_leaves_a_finite_loss(corpus):
    tok = corpus[1]["llama"]
    batch = TextSFTCollator(tok, max_len=8)(RECORDS[:2])
    assert batch["input_ids"].shape == (2, 8)
    assert (batch["labels"] == IGNORE_INDEX).all()  # the answers were cut off
    out = CausalLMPretrainer(build_llm(tiny_config(tok)))(**batch)
    assert out["loss"].item() == 0.0 and out["ntokens"].item() == 0


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_pretraining_lowers_the_loss_and_reloads(corpus, tmp_path, arch):
    path, toks = corpus
    tok = toks[arch]
    torch.manual_seed(0)
    model = CausalLMPretrainer(build_llm(tiny_config(tok, arch)))
    collate = TextSFTCollator(tok, max_len=256)
    batch = collate(load_records(path)[:5])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(**batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.3 * losses[0]

    save_llm(model, tok, tmp_path / "llm")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "llm")
    tok2 = AutoTokenizer.from_pretrained(tmp_path / "llm")
    assert type(again).__name__ == {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}[arch]
    assert tok2.encode("guten Morgen") == tok.encode("guten Morgen")
    assert again.generation_config.eos_token_id == tok.eos_token_id
    model.eval()
    with torch.no_grad():
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        assert torch.equal(model.model(**inputs).logits, again(**inputs).logits)


def test_a_tokenizer_that_would_not_reload_is_refused(corpus, tmp_path):
    # AutoTokenizer rebuilds any qwen2 directory's tokenizer as byte-level BPE
    tok = corpus[1]["llama"]
    with pytest.raises(ValueError, match="style"):
        save_llm(build_llm(tiny_config(tok, "qwen2")), tok, tmp_path / "llm")
    assert not (tmp_path / "llm").exists()


def test_default_size(corpus):
    tok = corpus[1]["llama"]
    config = llm_config(tok)  # 400-piece vocab here; the recipe uses ~1000
    params = count_parameters(build_llm(config))
    embeddings = 2 * config.vocab_size * config.hidden_size  # untied input/output
    assert 2.1e6 < params - embeddings + 2 * 1000 * 192 < 2.8e6
    assert (config.num_attention_heads, config.num_key_value_heads, config.intermediate_size) == (
        4,
        2,
        768,
    )
    with pytest.raises(ValueError, match="arch"):
        llm_config(tok, arch="gpt2")


def test_load_records_errors(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"task": "asr", "input": "a", "target": "a"}\n{"task": "asr", "input": "a"}\n')
    with pytest.raises(UserError) as err:
        load_records(path)
    assert err.value.line == 2 and "target" in str(err.value)
    path.write_text('{"task": "lm", "text": ""}\n')
    with pytest.raises(UserError, match="non-empty"):
        load_records(path)
    with pytest.raises(UserError, match="not found"):
        load_records(tmp_path / "missing.jsonl")


def test_text_task_scores_measure_what_the_model_answers(corpus):
    tok = corpus[1]["llama"]
    records = [r for r in RECORDS if r["task"] != "lm"]
    torch.manual_seed(0)
    model = CausalLMPretrainer(build_llm(tiny_config(tok)))
    collator = TextSFTCollator(tok, max_len=256)
    untrained = text_task_scores(model.model, collator, records, max_new_tokens=8)
    assert set(untrained) == {"text_asr_wer", "text_st_en_de_bleu", "text_qa_exact_match"}
    assert untrained["text_asr_wer"] > 50 and untrained["text_qa_exact_match"] == 0
    # memorise the four answers, whatever the instruction's phrasing
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step in range(100):
        loss = model(**TextSFTCollator(tok, max_len=256, seed=step)(records))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = text_task_scores(model.model, TextSFTCollator(tok, max_len=256, seed=0), records)
    assert trained == pytest.approx(
        {"text_asr_wer": 0.0, "text_st_en_de_bleu": 100.0, "text_qa_exact_match": 100.0}
    )
    assert model.training  # restored after generating


def test_text_batches_group_similar_lengths_and_cover_each_record_once():
    from soundwave.offline.standin.pretrain import TextBatches

    rng = random.Random(0)
    records = [
        {"task": "asr", "input": "x" * rng.randint(1, 200), "target": ""} for _ in range(640)
    ]
    batches = TextBatches(records, lambda rs, seed: rs, batch_size=8, seed=3, bucket_window=10)
    epoch = batches.epoch_batches(0)
    assert sorted(j for b in epoch for j in b) == list(range(640))
    assert epoch == batches.epoch_batches(0) != batches.epoch_batches(1)

    def padded_share(groups: list[list[int]]) -> float:
        sizes = [[len(records[j]["input"]) for j in g] for g in groups]
        return 1 - sum(map(sum, sizes)) / sum(len(s) * max(s) for s in sizes)

    unsorted = TextBatches(records, lambda rs, seed: rs, batch_size=8, seed=3, bucket_window=0)
    assert padded_share(epoch) < 0.1 < 0.3 < padded_share(unsorted.epoch_batches(0))
    # a resumed epoch yields exactly the remaining batches
    full = list(batches(0, 0))
    assert list(batches(0, 5)) == full[5:]

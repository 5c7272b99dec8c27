"""LLM side: audio token, prompts (chat template and released layout), splice plans."""

from __future__ import annotations

import torch
from models_util import llm_dir
from torch import nn

from soundwave.models.config import OFFICIAL_SYSTEM_PROMPT
from soundwave.models.llm import (
    IGNORE_INDEX,
    PromptBuilder,
    add_audio_token,
    embed_splice,
    load_llm,
    load_tokenizer,
    plan_splice,
)

AUDIO = "<audio_patch>"


def tokenizer_with_audio(arch: str):
    tok = load_tokenizer(llm_dir(arch))
    llm = load_llm(llm_dir(arch))
    return tok, llm, add_audio_token(tok, llm, AUDIO)


def test_add_audio_token_resizes_with_mean_rows_and_is_idempotent():
    for arch in ("llama", "qwen2"):
        tok, llm, audio_id = tokenizer_with_audio(arch)
        rows = llm.get_input_embeddings().weight.shape[0]
        assert audio_id == rows - 1 == len(tok) - 1
        w = llm.get_input_embeddings().weight
        torch.testing.assert_close(w[-1], w[:-1].mean(0))
        assert add_audio_token(tok, llm, AUDIO) == audio_id
        assert llm.get_input_embeddings().weight.shape[0] == rows
        assert tok.decode([audio_id], skip_special_tokens=True) == ""
        if arch == "qwen2":  # tied embeddings stay tied
            assert llm.get_output_embeddings().weight is llm.get_input_embeddings().weight


def test_chat_template_prompts_llama_and_qwen2():
    for arch, before, after in (
        (
            "llama",
            "<|start_header_id|>user<|end_header_id|>\n\n",  # Llama-3 trims the leading "\n"
            "say hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        ),
        ("qwen2", "<|im_start|>user\n\n", "say hi<|im_end|>\n<|im_start|>assistant\n"),
    ):
        tok, _, _ = tokenizer_with_audio(arch)
        prefix, suffix = PromptBuilder(tok, OFFICIAL_SYSTEM_PROMPT, AUDIO)("say hi")
        text = tok.decode(prefix)
        assert text.endswith(before) and OFFICIAL_SYSTEM_PROMPT in text
        assert tok.decode(suffix) == after


def test_official_prompt_layout():
    tok, _, audio_id = tokenizer_with_audio("llama")
    prefix, suffix = PromptBuilder(tok, "sys", AUDIO, "official")("go")
    v = tok.get_vocab()
    enc = lambda s: tok(s).input_ids  # noqa: E731 (the released code adds the tokenizer's specials)
    sh, eh, eot = v["<|start_header_id|>"], v["<|end_header_id|>"], v["<|eot_id|>"]
    expected = [v["<|begin_of_text|>"], sh, *enc("system"), eh, *enc("\n"), *enc("sys"), eot]
    expected += [
        sh,
        *enc("user"),
        eh,
        *enc("\n" + AUDIO),
        *enc("go"),
        eot,
        sh,
        *enc("assistant"),
        eh,
        *enc("\n"),
    ]
    assert [*prefix, audio_id, *suffix] == expected


def test_plan_splice_right_padding_for_training():
    prompts = [([1, 2], [3]), ([1], [3, 4])]
    plan = plan_splice(prompts, [3, 1], audio_width=3, pad_id=0, targets=[[7, 8], [9]])
    assert plan.token_ids.tolist() == [[1, 2, 0, 0, 0, 3, 7, 8], [1, 0, 3, 4, 9, 0, 0, 0]]
    assert plan.audio_src.tolist() == [
        [-1, -1, 0, 1, 2, -1, -1, -1],
        [-1, 3, -1, -1, -1, -1, -1, -1],
    ]
    assert plan.attention_mask.tolist() == [[1] * 8, [1] * 5 + [0] * 3]
    i = IGNORE_INDEX
    assert plan.labels.tolist() == [[i, i, i, i, i, i, 7, 8], [i, i, i, i, 9, i, i, i]]
    assert plan.position_ids.tolist() == [list(range(8)), [0, 1, 2, 3, 4, 4, 4, 4]]


def test_plan_splice_left_padding_and_embed():
    plan = plan_splice([([1], [2]), ([1, 1], [2])], [1, 2], audio_width=2, pad_id=0, left_pad=True)
    assert plan.labels is None
    assert plan.token_ids.tolist() == [[0, 0, 1, 0, 2], [1, 1, 0, 0, 2]]
    assert plan.attention_mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert plan.position_ids.tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]]
    emb = nn.Embedding(5, 2)
    audio = torch.tensor(
        [[[10.0, 11.0], [0.0, 0.0]], [[20.0, 21.0], [30.0, 31.0]]], requires_grad=True
    )
    x = embed_splice(emb, audio, plan)
    assert (
        x[0, 3].tolist() == [10, 11]
        and x[1, 2].tolist() == [20, 21]
        and x[1, 3].tolist() == [30, 31]
    )
    torch.testing.assert_close(x[0, 4], emb.weight[2])
    x.sum().backward()
    assert audio.grad.tolist() == [[[1, 1], [0, 0]], [[1, 1], [1, 1]]]

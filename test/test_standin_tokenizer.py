"""The stand-in tokenizer: sentencepiece BPE wrapped as an HF fast tokenizer."""

from __future__ import annotations

import json
import random

import pytest
import sentencepiece as spm
from transformers import AutoTokenizer

from soundwave.errors import UserError
from soundwave.offline.standin.tokenizer import (
    BOS,
    EOS,
    PAD,
    QWEN_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    SPM_FILE,
    iter_text,
    train_tokenizer,
)

ENGLISH = [
    "the quick brown fox jumps over the lazy dog",
    "please turn on the lights in the kitchen",
    "what is the weather like today",
    "i would like to book a flight to berlin",
    "she sells sea shells by the sea shore",
]
GERMAN = [
    "der schnelle braune fuchs springt über den faulen hund",
    "bitte schalte das licht in der küche ein",
    "wie ist das wetter heute",
    "ich möchte einen flug nach berlin buchen",
    "die straße ist groß und schön",
    "Öl, Äpfel und Übungen für die Größe",
]


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def trained(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"tok_{request.param}")
    text = root / "corpus.txt"
    text.write_text("\n".join((ENGLISH + GERMAN) * 20) + "\n", encoding="utf-8")
    records = root / "train.jsonl"
    records.write_text(
        json.dumps({"task": "st", "input": "good morning", "target": "guten Morgen"}) + "\n",
        encoding="utf-8",
    )
    out = root / "tokenizer"
    tok = train_tokenizer(
        [text, records],
        out,
        vocab_size=500,
        extra_lines=["Transcribe the speech."],
        style=request.param,
    )
    return tok, out, request.param


@pytest.mark.parametrize(
    "text",
    [
        *ENGLISH,
        *GERMAN,
        "Straße, Maße, Füße: ÄÖÜ äöü ß!",
        "  leading and  double spaces ",
        "two\nlines",
        "unseen: 漢字 é ñ 123",
    ],
)
def test_round_trip(trained, text):
    tok, _, _ = trained
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text
    assert tok.unk_token_id not in ids  # byte fallback, never <unk>


def test_special_tokens(trained):
    tok, _, style = trained
    assert len(tok) <= 500
    # a special token in text is one id
    assert tok.encode(f"hund{tok.eos_token}", add_special_tokens=False)[-1] == tok.eos_token_id
    if style == "qwen2":  # Qwen2-Instruct's: no BOS, <|im_end|> ends a turn
        assert tok.convert_tokens_to_ids(list(QWEN_SPECIAL_TOKENS)) == [0, 1, 2]
        assert (tok.bos_token, tok.eos_token, tok.pad_token) == (
            None,
            "<|im_end|>",
            "<|endoftext|>",
        )
        assert tok("bitte").input_ids == tok.encode("bitte", add_special_tokens=False)
        return
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (BOS, EOS, PAD)
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}) == 4
    ids = tok("bitte").input_ids  # BOS is added by default, EOS is not
    assert ids[0] == tok.bos_token_id and ids[-1] != tok.eos_token_id


def test_words_of_the_corpus_are_merged(trained):
    tok, _, _ = trained
    # frequent words are single pieces, with the space before them
    assert len(tok.tokenize("the dog")) == 2
    assert len(tok.tokenize(" über")) == 1


EXPECTED_CHAT = {
    "llama": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nTranscribe the speech.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\ndie straße<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    "qwen2": (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n\nTranscribe the speech. <|im_end|>\n"
        "<|im_start|>assistant\ndie straße<|im_end|>\n",
        "<|im_start|>assistant\n",
    ),
}


def test_chat_template(trained):
    tok, _, style = trained
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "\nTranscribe the speech. "},
        {"role": "assistant", "content": "die straße"},
    ]
    expected, generation_prompt = EXPECTED_CHAT[style]
    assert tok.apply_chat_template(messages, tokenize=False) == expected
    prompt = tok.apply_chat_template(messages[:2], add_generation_prompt=True, tokenize=True)[
        "input_ids"
    ]
    full = tok.apply_chat_template(messages, tokenize=True)["input_ids"]
    assert tok.decode(prompt).endswith(generation_prompt)
    # the conversation starts with the prompt + the answer alone + EOS (the collator's layout)
    answer = tok.encode("die straße", add_special_tokens=False)
    assert full[: len(prompt) + len(answer) + 1] == prompt + answer + [tok.eos_token_id]
    if style == "llama":
        assert prompt.count(tok.bos_token_id) == 1


def test_reload_and_sentencepiece_agree(trained):
    tok, out, style = trained
    again = AutoTokenizer.from_pretrained(out)
    assert type(again) is type(tok)
    for text in [*ENGLISH, *GERMAN, "Straße ÄÖÜ"]:
        assert again.encode(text) == tok.encode(text)
    assert again.chat_template == tok.chat_template
    assert (again.bos_token_id, again.eos_token_id, again.pad_token_id) == (
        tok.bos_token_id,
        tok.eos_token_id,
        tok.pad_token_id,
    )
    if style == "llama":  # the raw sentencepiece model tokenizes as the HF one
        sp = spm.SentencePieceProcessor(model_file=str(out / SPM_FILE))
        for text in [*ENGLISH, *GERMAN, "Straße ÄÖÜ"]:
            assert sp.encode(text) == tok.encode(text, add_special_tokens=False)


def test_jsonl_records_give_input_and_target(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(
        '{"task": "st", "input": "hello", "target": "hallo"}\n\n{"task": "lm", "text": "x"}\n',
        encoding="utf-8",
    )
    assert list(iter_text(path)) == ["hello", "hallo"]


def test_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        train_tokenizer([tmp_path / "missing.txt"], tmp_path / "out")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "asr", "input": "a", "target": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(UserError) as err:
        train_tokenizer([bad], tmp_path / "out")
    assert err.value.line == 2
    text = tmp_path / "a.txt"
    text.write_text("hello\n", encoding="utf-8")
    with pytest.raises(UserError, match="too small"):
        train_tokenizer([text], tmp_path / "out", vocab_size=100)
    with pytest.raises(UserError, match="style"):
        train_tokenizer([text], tmp_path / "out", style="gpt2")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("style", ["llama", "qwen2"])
def test_prompts_get_whole_word_pieces_when_weighted(tmp_path, style):
    rng = random.Random(0)
    words = " ".join(ENGLISH + GERMAN).split()
    text = tmp_path / "corpus.txt"
    text.write_text(
        "\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(2000)) + "\n",
        encoding="utf-8",
    )
    prompts = [
        "system",
        "assistant",
        "You are a helpful speech assistant.",
        "Transcribe the speech.",
    ]

    def pieces(share: float) -> list[list[str]]:
        tok = train_tokenizer(
            [text], tmp_path / f"t{share}", 400, prompts, style=style, extra_share=share
        )
        return [tok.tokenize(p) for p in prompts]

    once, weighted = pieces(0.0), pieces(0.2)
    # seen once among 2000 lines the prompts are spelt in fragments; as a fifth of the
    # lines their frequent words become pieces
    assert sum(map(len, weighted)) < 0.7 * sum(map(len, once))
    assert len(weighted[1]) == 1 < len(once[1])  # "assistant"
    with pytest.raises(UserError, match="extra_share"):
        train_tokenizer([text], tmp_path / "bad", extra_share=1.0)


def test_task_phrasings_do_not_depend_on_what_the_process_asked_for_before():
    """st_<src>_<tgt> tasks are registered on first use; the stand-in tokenizer's training
    lines must not change with them (a test that scored Chinese BLEU made the next
    module's tokenizer, and its memorisation check, differ)."""
    from soundwave.offline.standin.prompts import task_phrasings
    from soundwave.tasks import get_task

    before = task_phrasings(["asr", "st", "qa"])
    get_task("st_en_zh"), get_task("st_de_ja")
    assert task_phrasings(["asr", "st", "qa"]) == before

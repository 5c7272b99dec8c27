"""The tokenizer and generation config of a converted CTranslate2 Whisper (from its
``vocabulary.txt``, ``tokenizer.json`` and ``config.json``)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from soundwave.errors import UserError

TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")
SPECIAL = re.compile(r"<\|[^|]+\|>")


def read_vocabulary(path: Path) -> list[str]:
    """CT2's ``vocabulary.txt``: one token a line, line i = id i (byte-level BPE tokens hold no
    newline; a ``vocabulary.json`` list is the newer form)."""
    if path.suffix == ".json":
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"bad vocabulary: {err}", path) from None
    else:
        tokens = path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise UserError("bad vocabulary: not a list of tokens", path)
    return tokens


def _bpe_from_tokenizer_json(path: Path) -> tuple[dict[str, int], list[str]]:
    try:
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
        vocab, merges = model["vocab"], model["merges"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserError(f"not a byte-level BPE tokenizer.json: {err}", path) from None
    # tokenizers writes merges as "a b" strings (old) or [a, b] pairs (>= 0.20)
    return vocab, [m if isinstance(m, str) else " ".join(m) for m in merges]


def build_tokenizer(ct2_dir: Path, tokens: list[str]) -> Any:
    """An HF Whisper tokenizer whose ids equal CT2's vocabulary (timestamps included).

    The BPE part comes from ``tokenizer.json``; specials and timestamps are added the way
    transformers' own OpenAI converter adds them (specials special, timestamps not).
    """
    from tokenizers import AddedToken
    from transformers import WhisperTokenizerFast

    tj = ct2_dir / "tokenizer.json"
    if not tj.is_file():
        raise UserError("tokenizer.json missing (needed for the BPE merges)", ct2_dir)
    vocab, merges = _bpe_from_tokenizer_json(tj)
    if "<|endoftext|>" not in tokens:
        raise UserError("no <|endoftext|> token: not a Whisper vocabulary", ct2_dir)
    eot = tokens.index("<|endoftext|>")
    bpe = {t: i for t, i in vocab.items() if i < eot}
    for i, t in enumerate(tokens[:eot]):
        if bpe.get(t) != i:
            raise UserError(f"tokenizer.json and the vocabulary disagree on token {i} ('{t}')", tj)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vocab.json").write_text(json.dumps(bpe, ensure_ascii=False), encoding="utf-8")
        Path(tmp, "merges.txt").write_text(
            "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
        )
        tok = WhisperTokenizerFast.from_pretrained(tmp, pad_token="<|endoftext|>")
    rest = tokens[eot:]
    specials = [t for t in rest if SPECIAL.fullmatch(t) and not TIMESTAMP.fullmatch(t)]
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in rest if t not in specials]
    )
    if len(tok) != len(tokens):
        raise UserError(f"tokenizer has {len(tok)} tokens, the vocabulary {len(tokens)}", ct2_dir)
    ids = tok.convert_tokens_to_ids(tokens)
    bad = [i for i, j in enumerate(ids) if i != j]
    if bad:
        raise UserError(f"token {bad[0]} ('{tokens[bad[0]]}') gets id {ids[bad[0]]}", ct2_dir)
    return tok


def build_generation_config(tokens: list[str], ct2_config: dict, max_length: int) -> Any:
    """Whisper's generation settings from the vocabulary and CT2's config.json."""
    from transformers import GenerationConfig

    ids = {t: i for i, t in enumerate(tokens)}
    multilingual = len(tokens) >= 51865  # transformers' own test: .en vocabularies are 51864
    sot = ids["<|startoftranscript|>"]
    gen: dict[str, Any] = {
        "bos_token_id": sot,
        "decoder_start_token_id": sot,
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "no_timestamps_token_id": ids.get("<|notimestamps|>"),
        "prev_sot_token_id": ids.get("<|startofprev|>"),
        "suppress_tokens": list(ct2_config.get("suppress_ids") or []),
        "begin_suppress_tokens": list(ct2_config.get("suppress_ids_begin") or []),
        "max_initial_timestamp_index": 50,  # OpenAI's max_initial_timestamp of 1 s
        "max_length": max_length,
        "is_multilingual": multilingual,
        "return_timestamps": False,
    }
    if ct2_config.get("alignment_heads"):
        gen["alignment_heads"] = [list(h) for h in ct2_config["alignment_heads"]]
    if multilingual:
        # language tokens sit between <|startoftranscript|> and <|translate|>
        end = ids.get("<|translate|>", sot + 1)
        gen["lang_to_id"] = {t: ids[t] for t in tokens[sot + 1 : end]}
        gen["task_to_id"] = {k: ids[f"<|{k}|>"] for k in ("transcribe", "translate")}
    return GenerationConfig(**gen)

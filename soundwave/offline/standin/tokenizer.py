"""Train a small BPE tokenizer and save it as an HF fast tokenizer, in one of two styles.

- ``"llama"`` (default): a sentencepiece BPE with byte fallback, saved as a
  ``LlamaTokenizer`` that behaves like a (very small) Llama-3.1 Instruct tokenizer: the
  same special-token names (``<|begin_of_text|>`` BOS, ``<|eot_id|>`` ends a turn and is
  the EOS, ``<|finetune_right_pad_id|>`` pads), no hidden prefix space, and Llama-3's chat
  template (``<|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>``), which
  is what the official Soundwave prompt uses.  Special tokens sit inside the
  sentencepiece vocabulary at ids 0-5; the raw model is kept as ``sentencepiece.model``.
- ``"qwen2"``: a byte-level BPE with Qwen2's exact pre-tokenization (trained with
  ``tokenizers``; sentencepiece cannot make byte-level BPE), saved as a ``Qwen2Tokenizer``
  with ChatML (``<|im_start|>``/``<|im_end|>``).  Needed for a Qwen2 LM: transformers'
  ``AutoTokenizer`` always rebuilds a ``model_type: qwen2`` directory's tokenizer with
  Qwen2's byte-level pipeline, which would garble a sentencepiece vocabulary.

Both encode every string (byte fallback / byte level): umlauts, ß and unseen scripts
round-trip.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import pre_tokenizers, trainers
from tokenizers.models import BPE
from transformers import LlamaTokenizer, PreTrainedTokenizerFast, Qwen2Tokenizer

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir
from soundwave.offline.tiny import LLAMA3_CHAT_TEMPLATE, QWEN2_CHAT_TEMPLATE

STYLES = ("llama", "qwen2")
MIN_VOCAB = 300  # 256 bytes, the special tokens and a few merges

UNK, BOS, EOS, PAD = "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>"
START_HEADER, END_HEADER = "<|start_header_id|>", "<|end_header_id|>"
# ids 0..5 in this order; ids 0-3 are sentencepiece's own, 4-5 control symbols.
SPECIAL_TOKENS = (UNK, BOS, EOS, PAD, START_HEADER, END_HEADER)

QWEN_TEXT_END, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
QWEN_SPECIAL_TOKENS = (QWEN_TEXT_END, IM_START, IM_END)  # ids 0..2
SPM_FILE = "sentencepiece.model"  # not "tokenizer.model": transformers would re-convert it


def iter_text(path: Path) -> Iterator[str]:
    """Sentences of a training file: a ``.jsonl`` file gives its records' ``input`` and
    ``target`` strings (the corpus generator's format), any other file its lines."""
    path = Path(path)
    if not path.is_file():
        raise UserError("tokenizer training text not found", path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            if path.suffix != ".jsonl":
                yield line.rstrip("\n")
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"invalid JSON: {err.msg}", path, lineno) from None
            if not isinstance(rec, dict):
                raise UserError("a record must be a JSON object", path, lineno)
            for key in ("input", "target"):
                if isinstance(rec.get(key), str) and rec[key].strip():
                    yield rec[key]


def train_tokenizer(
    text_files: list[Path],
    out_dir: Path,
    vocab_size: int = 1000,
    extra_lines: Iterable[str] = (),
    style: str = "llama",
    extra_share: float = 0.0,
) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer of ``style`` ("llama" or "qwen2", see the module docstring)
    on ``text_files`` (+ ``extra_lines``, e.g. prompts and instructions), save it to
    ``out_dir`` and return it.

    ``extra_share``: the extra lines are repeated until they are about this share of the
    training lines (0: each once).  Prompts occur in every training example, so a
    tokenizer that sees them once per corpus would spell "assistant" or "Transcribe" in
    single letters, as no real LLM's tokenizer does, and every prompt would cost several
    times the tokens.  ``vocab_size`` is an upper bound: a small corpus may give fewer
    pieces.
    """
    if style not in STYLES:
        raise UserError(f"tokenizer style must be one of {', '.join(STYLES)}, not '{style}'")
    if vocab_size < MIN_VOCAB:
        raise UserError(
            f"vocab_size {vocab_size} is too small (byte-level pieces need >= {MIN_VOCAB})"
        )
    if not 0 <= extra_share < 1:
        raise UserError(f"extra_share must be in [0, 1), not {extra_share}")
    lines: list[str] = []
    for path in text_files:
        lines.extend(iter_text(path))
    extra = list(extra_lines)
    repeat = 1
    if extra and extra_share > 0:
        repeat = max(1, round(extra_share * len(lines) / ((1 - extra_share) * len(extra))))
    lines.extend(extra * repeat)
    # both trainers read one sentence per line ("\n" gets a piece of its own anyway)
    lines = [" ".join(s.split("\n")).strip() for s in lines]
    lines = [s for s in lines if s]
    if not lines:
        raise UserError("no text to train the tokenizer on", text_files[0] if text_files else None)

    with tempfile.TemporaryDirectory(prefix="tok.") as tmp:
        if style == "llama":
            spm_model = _train_sentencepiece(lines, vocab_size, Path(tmp))
            tokenizer = tokenizer_from_spm(spm_model)
        else:
            tokenizer = _train_qwen2(lines, vocab_size)
        with atomic_dir(out_dir) as tmp_out:
            tokenizer.save_pretrained(tmp_out)
            if style == "llama":
                (tmp_out / SPM_FILE).write_bytes(spm_model.read_bytes())
    return tokenizer


def _train_sentencepiece(lines: list[str], vocab_size: int, tmp: Path) -> Path:
    import sentencepiece as spm

    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.set_random_generator_seed(0)
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp / "sp"),
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,  # a small corpus may not support vocab_size pieces
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",  # the HF side applies no normalizer either
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,  # as Llama-3: no hidden leading space, exact round trip
        split_digits=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        unk_piece=UNK,
        bos_piece=BOS,
        eos_piece=EOS,
        pad_piece=PAD,
        control_symbols=[START_HEADER, END_HEADER],
        user_defined_symbols=["\n"],  # the chat template's "\n\n" as pieces, not bytes
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        num_threads=min(4, os.cpu_count() or 1),
        minloglevel=2,
    )
    return tmp / "sp.model"


def tokenizer_from_spm(model_file: Path) -> PreTrainedTokenizerFast:
    """Wrap a sentencepiece BPE model (trained as in :func:`train_tokenizer`) as a
    Llama-style HF fast tokenizer with the special tokens and chat template set."""
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    extracted = SentencePieceExtractor(str(model_file)).extract(BPE)
    vocab: dict[str, int] = extracted["vocab"]
    if [vocab.get(t) for t in SPECIAL_TOKENS] != list(range(len(SPECIAL_TOKENS))):
        raise UserError(
            "not a soundwave stand-in sentencepiece model (special ids differ)", model_file
        )
    tokenizer = LlamaTokenizer(
        vocab=vocab,
        merges=extracted["merges"],
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        add_bos_token=True,
        add_eos_token=False,
        add_prefix_space=False,
        extra_special_tokens=[START_HEADER, END_HEADER],
    )
    tokenizer.chat_template = LLAMA3_CHAT_TEMPLATE
    return tokenizer


def _train_qwen2(lines: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    # Train the very pipeline Qwen2Tokenizer builds (NFC, Qwen2's regex, byte level).
    backend = Qwen2Tokenizer().backend_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(lines, trainer)
    model = json.loads(backend.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=[tuple(m) for m in model["merges"]],
        unk_token=None,
        bos_token=None,
        eos_token=IM_END,
        pad_token=QWEN_TEXT_END,
        extra_special_tokens=[IM_START],
    )
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer

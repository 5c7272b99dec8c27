"""Write a tiny random Whisper and a tiny random LLM: stand-ins for a real recipe's models.

Usage:
    python -m soundwave.bin.make_tiny_models --out DIR [--arch llama|qwen2] [--n-mels 80|128]
        [--text data/train/text ...]

DIR gets ``whisper/`` (an HF Whisper dir) and ``llm/`` (an HF causal LM with a chat
template and a byte-level BPE tokenizer trained on the transcripts of the Kaldi ``text``
files given).  A real recipe run with ``model.encoder_path=DIR/whisper
model.llm_path=DIR/llm`` goes through every stage as with whisper-large-v2 and an 8B LLM,
in seconds on a CPU: this is how the tests exercise recipes whose models cannot be had here.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.offline.tiny.build_tiny_models`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.make_tiny_models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--arch", default="llama", choices=("llama", "qwen2"))
    parser.add_argument("--n-mels", type=int, default=80, choices=(80, 128))
    parser.add_argument("--vocab-size", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--text", nargs="*", default=[], metavar="FILE", help="Kaldi text files (tokenizer data)"
    )
    args = parser.parse_args(argv)

    from soundwave.data.tables import read_table
    from soundwave.offline.tiny import build_tiny_models

    texts = [line for path in args.text for line in read_table(path).values()] or None
    dirs = build_tiny_models(args.out, args.arch, texts, args.n_mels, args.vocab_size, args.seed)
    print(f"wrote {dirs['whisper']} and {dirs['llm']}")


if __name__ == "__main__":
    main()

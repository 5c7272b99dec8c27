"""Stand-in "pretrained" models for the offline default recipe.

No weights can be downloaded here, so the default recipe builds its own tiny
"pretrained" checkpoints and then loads them with ``from_pretrained(<local dir>)``
exactly like real ones:

- :mod:`.tokenizer`: a sentencepiece BPE tokenizer (English + German, byte fallback)
  wrapped as an HF fast tokenizer with a Llama-3 style chat template;
- :mod:`.llm`: a tiny Llama/Qwen2 causal LM pretrained on text-only versions of the tasks;
- :mod:`.encoder`: a tiny Whisper-architecture encoder pretrained with character CTC.
"""

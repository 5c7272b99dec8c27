"""VocalSound's public release -> Kaldi data dirs data/{train,dev,test} (the official split).

Usage:
    python -m soundwave.bin.prepare_vocalsound --corpus-dir /corpora/vocalsound_16k --data-dir data

The corpus dir is the unpacked ``vs_release_16k.zip`` (``audio_16k/``, ``datafiles/tr.json``,
``val.json``, ``te.json``).  Each set gets wav.scp, utt2spk, spk2utt, spk2gender and
utt2sound_event (laughter, sigh, cough, throatclearing, sneeze, sniff); no ``text``.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run :func:`soundwave.data.vocalsound.prepare_vocalsound`."""
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.prepare_vocalsound",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus-dir", required=True, metavar="DIR")
    parser.add_argument("--data-dir", required=True, metavar="DIR")
    args = parser.parse_args(argv)

    from soundwave.data.vocalsound import prepare_vocalsound

    counts = prepare_vocalsound(args.corpus_dir, args.data_dir)
    print(" ".join(f"{name}: {n} clips" for name, n in counts.items()))


if __name__ == "__main__":
    main()

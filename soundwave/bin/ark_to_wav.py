"""Write the audio of a wav entry in a Kaldi archive to standard output as a WAV file.

Usage: python -m soundwave.bin.ark_to_wav <path.ark:offset>

This is how lhotse reads ark entries of a wav.scp: their recordings have a "command"
source running this module (see soundwave/data/lhotse_io.py).  Any wav.scp value (a
path or a "cmd |" pipe) works too.  The output is 32-bit float WAV at the native rate.
"""

from __future__ import annotations

import argparse
import sys

from soundwave.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("value", help="a wav.scp value, e.g. data/wav.ark:1234")
    args = parser.parse_args(argv)

    from soundwave.data.audio import load, to_wav_bytes

    samples, sr = load(args.value)
    sys.stdout.buffer.write(to_wav_bytes(samples, sr))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()

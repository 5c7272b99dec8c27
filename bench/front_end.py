"""Front-end throughput in audio seconds per wall second on one core: the toolkit's
log-mel (``soundwave/features/fbank.py``) against transformers' ``WhisperFeatureExtractor``
and openai-whisper's ``log_mel_spectrogram``, on the same files; then the encoder-cache
epoch against the uncached one (``bench/encoder_cache.py``).

    python bench/front_end.py --wavs data/test/wav.scp [--limit 64]

Samples are read into memory first (decoding a file is not the front end; openai-whisper
would spawn ffmpeg for every file).  Whisper's own extractors pad every utterance to its
30 s window: they are timed so (how they are called) and unpadded; ours computes the
utterance's frames only (the 30 s window is the encoder's business, ``pad30``).  One
thread (``torch.set_num_threads(1)``): the figure is per core.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from bench_util import RESULTS, machine_info, markdown_table, shared_note, write_results

from soundwave.data.tables import read_table
from soundwave.features.fbank import SAMPLE_RATE, whisper_fbank


def extractors() -> dict[str, Callable[[np.ndarray], Any]]:
    """Name -> a function of 16 kHz float32 samples computing 80-bin Whisper log-mel."""
    import whisper
    from transformers import WhisperFeatureExtractor

    ours = whisper_fbank(80)
    hf = WhisperFeatureExtractor(feature_size=80)
    return {
        "soundwave (fbank.py)": lambda x: ours.frames_and_tail(x, SAMPLE_RATE),
        "transformers WhisperFeatureExtractor (30 s window)": lambda x: hf(
            x, sampling_rate=SAMPLE_RATE, return_tensors="np"
        ),
        "transformers WhisperFeatureExtractor (unpadded)": lambda x: hf(
            x, sampling_rate=SAMPLE_RATE, return_tensors="np", padding="longest"
        ),
        "openai-whisper log_mel_spectrogram (30 s window)": lambda x: whisper.log_mel_spectrogram(
            whisper.pad_or_trim(torch.from_numpy(x))
        ),
        "openai-whisper log_mel_spectrogram (unpadded)": lambda x: whisper.log_mel_spectrogram(
            torch.from_numpy(x)
        ),
    }


def read_audio(wav_scp: Path, limit: int) -> list[np.ndarray]:
    """The first ``limit`` files of a wav.scp (plain paths), as float32 samples."""
    paths = list(read_table(wav_scp).values())[:limit]
    audio = []
    for path in paths:
        x, sr = sf.read(path, dtype="float32")
        if sr != SAMPLE_RATE or x.ndim != 1:
            raise SystemExit(f"{path}: expected 16 kHz mono")
        audio.append(x)
    return audio


def run(audio: list[np.ndarray], repeats: int) -> dict[str, Any]:
    """Audio seconds per wall second of every extractor on ``audio``, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seconds = sum(len(x) for x in audio) / SAMPLE_RATE
    rows = {}
    try:
        for name, fn in extractors().items():
            fn(audio[0])  # warm-up: filter banks and windows are built on the first call
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                for x in audio:
                    fn(x)
                best = min(best, time.perf_counter() - start)
            rows[name] = {"wall_seconds": best, "x_real_time_per_core": seconds / best}
    finally:
        torch.set_num_threads(threads)
    return {"files": len(audio), "audio_seconds": round(seconds, 2), "extractors": rows}


def table(result: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    ours = next(iter(result["extractors"].values()))["x_real_time_per_core"]
    body = [
        [name, r["x_real_time_per_core"], f"{ours / r['x_real_time_per_core']:.2f}x"]
        for name, r in result["extractors"].items()
    ]
    note = (
        f"{result['files']} files, {result['audio_seconds']} s of audio in memory, one "
        f"thread; {shared_note(machine)}."
    )
    header = ["front end (80 log-mel bins)", "x real time per core", "ours vs it"]
    return [note, "", *markdown_table(header, body)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wavs", required=True, help="a wav.scp of 16 kHz mono files")
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args()
    result = run(read_audio(Path(args.wavs), args.limit), args.repeats)
    lines = table(result, machine_info())
    write_results(Path(args.out_dir), "front_end", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

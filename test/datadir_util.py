"""Small Kaldi data directories with real audio, for the test_data_* tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

JFK = Path("/work/shared/data/real/jfk.flac")
SR = 16000
# speaker -> utterance ids (speaker-prefixed, C-locale sorted)
SPEAKERS = {
    "spkA": ["spkA-001", "spkA-002", "spkA-003"],
    "spkB": ["spkB-001", "spkB-002"],
    "spkC": ["spkC-001"],
}
GENDER = {"spkA": "f", "spkB": "m", "spkC": "f"}


def tone(seconds: float, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_files(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def lines(table: dict[str, str]) -> str:
    return "".join(f"{k} {v}\n" for k, v in sorted(table.items()))


def make_datadir(root: Path, name: str = "data", *, extras: bool = True) -> Path:
    """A valid dir without segments: 6 utterances of 3 speakers, 0.2-0.45 s wavs."""
    audio = root / f"{name}_audio"
    audio.mkdir(parents=True, exist_ok=True)
    utt2spk = {u: s for s, us in SPEAKERS.items() for u in us}
    wav, dur = {}, {}
    for i, utt in enumerate(sorted(utt2spk)):
        seconds = 0.2 + 0.05 * i
        path = audio / f"{utt}.wav"
        sf.write(path, tone(seconds, 200 + 50 * i), SR, subtype="PCM_16")
        wav[utt] = str(path)
        dur[utt] = f"{seconds:g}"
    files = {
        "utt2spk": lines(utt2spk),
        "spk2utt": "".join(f"{s} {' '.join(us)}\n" for s, us in sorted(SPEAKERS.items())),
        "text": lines({u: f"hello number {i}" for i, u in enumerate(sorted(utt2spk))}),
        "wav.scp": lines(wav),
        "utt2dur": lines(dur),
        "spk2gender": lines(GENDER),
    }
    if extras:
        files["text.de"] = lines({u: f"hallo nummer {i}" for i, u in enumerate(sorted(utt2spk))})
        files["utt2task"] = lines(
            {u: "asr" if i % 2 else "st" for i, u in enumerate(sorted(utt2spk))}
        )
        files["spk2age"] = lines({"spkA": "30", "spkB": "41", "spkC": "25"})
    return write_files(root / name, files)


def make_segmented_datadir(root: Path, name: str = "seg") -> Path:
    """A valid dir with segments: two 1 s recordings, 4 utterances of 2 speakers."""
    audio = root / f"{name}_audio"
    audio.mkdir(parents=True, exist_ok=True)
    wav = {}
    for reco, freq in (("rec1", 300.0), ("rec2", 500.0)):
        path = audio / f"{reco}.wav"
        sf.write(path, tone(1.0, freq), SR, subtype="PCM_16")
        wav[reco] = str(path)
    segments = {
        "spkX-rec1-000": "rec1 0 0.5",
        "spkX-rec1-001": "rec1 0.5 1",
        "spkY-rec2-000": "rec2 0.1 0.6",
        "spkY-rec2-001": "rec2 0.6 0.95",
    }
    utt2spk = {u: u.split("-")[0] for u in segments}
    files = {
        "wav.scp": lines(wav),
        "segments": lines(segments),
        "utt2spk": lines(utt2spk),
        "spk2utt": "spkX spkX-rec1-000 spkX-rec1-001\nspkY spkY-rec2-000 spkY-rec2-001\n",
        "text": lines({u: f"segment {i}" for i, u in enumerate(sorted(segments))}),
        "reco2dur": "rec1 1\nrec2 1\n",
        "reco2file_and_channel": "rec1 rec1 A\nrec2 rec2 A\n",
        "text.fr": lines({u: f"segment {i} fr" for i, u in enumerate(sorted(segments))}),
    }
    return write_files(root / name, files)


def read_dir(d: Path) -> dict[str, str]:
    """Every regular file of ``d`` (not hidden) -> its text."""
    return {
        p.name: p.read_bytes().decode("utf-8", "surrogateescape")
        for p in sorted(d.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


UTILS = Path(__file__).resolve().parents[1] / "utils"


def run_tool(tool: str, *args, stdin: str | None = None, cwd: Path | None = None):
    """Run utils/<tool>.sh; returns the CompletedProcess (text mode)."""
    import subprocess

    return subprocess.run(
        [str(UTILS / f"{tool}.sh"), *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        check=False,
    )

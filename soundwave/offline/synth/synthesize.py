"""Text-to-speech with espeak-ng / flite into 16 kHz mono int16 wav files.

Each utterance: the engine writes a temporary wav (espeak-ng 22.05 kHz, flite 16 kHz),
which is resampled to 16 kHz (polyphase, scipy), given a little variety (leading and
trailing silence, peak level, a very low noise floor: all drawn from a generator seeded
by the corpus seed and the utterance id, so the result does not depend on which worker
ran it or in which order) and written atomically.  Same seed and same tool versions ->
identical bytes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from soundwave.errors import UserError
from soundwave.offline.synth.speakers import FLITE_VOICES, VARIANTS, Speaker

SAMPLE_RATE = 16000

_INSTALL = "install it with `apt-get install -y espeak-ng flite` (or tools/ set-up)"


@dataclass(frozen=True)
class Job:
    """One utterance to synthesise into ``wav_path``."""

    utt_id: str
    text: str
    speaker: Speaker
    wav_path: str
    seed: int
    espeak_path: str | None = None  # espeak-ng data overlay with the generated timbres


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def check_tools(engines: Iterable[str]) -> None:
    """Raise a one-line :class:`UserError` unless each engine and the voices we use exist."""
    for engine in engines:
        if shutil.which(engine) is None:
            raise UserError(f"{engine} not found on PATH; {_INSTALL}")
        if engine == "espeak-ng":
            listing = _run(["espeak-ng", "--voices=variant"]).stdout
            have = set(re.findall(r"!v/(\S+)", listing))
            want = {v for variants in VARIANTS.values() for v in variants if v}
            missing = sorted(want - have)
            if missing:
                raise UserError(f"espeak-ng lacks voice variants {', '.join(missing)}; {_INSTALL}")
        elif engine == "flite":
            listing = _run(["flite", "-lv"]).stdout
            missing = sorted(set(FLITE_VOICES) - set(listing.split()))
            if missing:
                raise UserError(f"flite lacks voices {', '.join(missing)}; {_INSTALL}")
        else:
            raise UserError(f"unknown TTS engine {engine!r} (use espeak-ng, flite)")


def tool_versions(engines: Iterable[str]) -> dict[str, str]:
    """First line of each engine's version output (recorded in the corpus report)."""
    out = {}
    for engine in engines:
        r = _run([engine, "--version"])
        lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        out[engine] = next(
            (ln for ln in lines if "version" in ln.lower()), lines[0] if lines else ""
        )
    return out


def _tts(job: Job, tmp_dir: str) -> tuple[np.ndarray, int]:
    fd, raw = tempfile.mkstemp(suffix=".wav", dir=tmp_dir)
    os.close(fd)
    try:
        r = _run(job.speaker.command(job.text, raw, job.espeak_path))
        if r.returncode != 0 or os.path.getsize(raw) <= 44:
            raise RuntimeError(
                f"{job.speaker.describe()} failed on {job.utt_id!r} "
                f"(exit {r.returncode}): {r.stderr.strip()[:200]}"
            )
        x, sr = sf.read(raw, dtype="float32", always_2d=True)
    finally:
        os.unlink(raw)
    return x[:, 0], sr


def render(job: Job, tmp_dir: str | None = None) -> np.ndarray:
    """The finished 16 kHz int16 signal of ``job``."""
    x, sr = _tts(job, tmp_dir or os.path.dirname(job.wav_path) or ".")
    # one resampling does both: to 16 kHz, and by the speaker's warp (a signal of warp
    # times the length, played at 16 kHz: every frequency lower by that factor)
    ratio = Fraction(round(SAMPLE_RATE * job.speaker.warp), sr).limit_denominator(1000)
    if ratio != 1:
        x = resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        raise RuntimeError(f"{job.speaker.describe()} produced silence for {job.utt_id!r}")
    rng = np.random.default_rng([job.seed, zlib.crc32(job.utt_id.encode())])
    lead, trail = (int(rng.uniform(0.05, 0.25) * SAMPLE_RATE) for _ in range(2))
    target = rng.uniform(0.3, 0.9)
    y = np.concatenate([np.zeros(lead), x * (target / peak), np.zeros(trail)])
    y += rng.standard_normal(y.size) * target * 10 ** (rng.uniform(-65, -50) / 20)
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


def synthesize(job: Job) -> tuple[str, int]:
    """Write ``job.wav_path``; return (utt_id, number of samples).

    The file appears whole (written beside and renamed) but is not fsync'ed: corpus
    building writes thousands of them inside a directory that is itself made atomically.
    """
    y = render(job)
    tmp = f"{job.wav_path}.{os.getpid()}.tmp"
    try:
        sf.write(tmp, y, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(tmp, job.wav_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return job.utt_id, int(y.size)


def synthesize_all(jobs: list[Job], nj: int = 2) -> dict[str, int]:
    """Synthesise every job with ``nj`` worker processes; utt_id -> number of samples."""
    for d in {os.path.dirname(j.wav_path) for j in jobs}:
        os.makedirs(d, exist_ok=True)
    if nj <= 1 or len(jobs) < 2:
        return dict(map(synthesize, jobs))
    # forkserver: workers do not inherit the parent's threads (torch, pytest plugins)
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(min(nj, len(jobs))) as pool:
        chunk = max(1, min(32, len(jobs) // (4 * nj)))
        return dict(pool.imap_unordered(synthesize, jobs, chunksize=chunk))

"""Read the audio that a ``wav.scp`` value names.

A value is one of (as in Kaldi's extended filenames):

* a path to an audio file soundfile can read (wav, flac, ...): ``/data/a.flac``;
* a command whose standard output is audio, ending in a pipe: ``sox a.flac -t wav - |``;
* a wav entry in a Kaldi archive, at a byte offset: ``/data/wav.ark:1234``.

:func:`read_audio` returns float32 mono samples in [-1, 1] at the requested rate.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundwave.data.tables import MAX_OVERSHOOT, WavSource
from soundwave.errors import UserError


@dataclass(frozen=True)
class AudioInfo:
    sampling_rate: int
    num_samples: int
    num_channels: int

    @property
    def duration(self) -> float:
        return self.num_samples / self.sampling_rate


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the block: libsndfile's MP3 decoder (libmpg123) prints
    its own warnings there for a corrupt file, beside the one line that reports it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _sf_error(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def run_pipe(command: str) -> bytes:
    """Run a ``wav.scp`` command (bash, pipefail) and return its standard output."""
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = f": {err[-1]}" if err else ""
        raise UserError(f"command failed with exit status {proc.returncode}: {command}{tail}")
    if not proc.stdout:
        raise UserError(f"command produced no audio: {command}")
    return proc.stdout


def _decode(data: bytes | str, command: str | None = None) -> tuple[np.ndarray, int]:
    """Decode a file (``data`` is its path) or a command's output (bytes)."""
    import soundfile as sf

    try:
        x, sr = sf.read(
            io.BytesIO(data) if isinstance(data, bytes) else data, dtype="float32", always_2d=True
        )
    except Exception as e:  # soundfile raises several types for unreadable input
        if command is not None:
            raise UserError(f"cannot read audio from command: {command}: {_sf_error(e)}") from None
        raise UserError(f"cannot read audio: {_sf_error(e)}", str(data)) from None
    return x, sr


def _load_ark(src: WavSource) -> tuple[np.ndarray, int]:
    import kaldiio

    if not Path(src.target).is_file():
        raise UserError("ark file not found", src.target)
    try:
        obj = kaldiio.load_mat(src.value)
    except Exception as e:  # kaldiio raises assertion/value errors on a bad offset
        raise UserError(
            f"cannot read the ark entry at offset {src.offset}: {e!r}", src.target
        ) from None
    if not isinstance(obj, tuple):
        raise UserError(
            f"the entry at offset {src.offset} is a matrix, not audio (a feats.scp entry?)",
            src.target,
        )
    sr, x = obj
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(2 ** (8 * x.dtype.itemsize - 1))
    x = x.astype(np.float32, copy=False)
    return (x[:, None] if x.ndim == 1 else x), int(sr)


def load(value: str) -> tuple[np.ndarray, int]:
    """All of the audio of a ``wav.scp`` value: float32 (samples, channels) and its rate."""
    src = WavSource.parse(value)
    if src.kind == "pipe":
        return _decode(run_pipe(src.target), src.target)
    if src.kind == "ark":
        return _load_ark(src)
    _file_info(src.target)  # a clear error for a missing or unreadable file
    return _decode(src.target)


def _file_info(path: str) -> AudioInfo:
    import soundfile as sf

    if not Path(path).is_file():
        raise UserError("audio file not found", path)
    try:
        with quiet_stderr():
            info = sf.info(path)
    except Exception as e:  # soundfile raises several types for unreadable input
        reason = _sf_error(e)
        if "File does not exist" in reason:  # libsndfile's words for a file it cannot decode
            reason = "not audio, or corrupt (no decoder could read it)"
        raise UserError(f"cannot read audio: {reason}", path) from None
    _check_wav_complete(path, info.samplerate)
    return AudioInfo(info.samplerate, info.frames, info.channels)


# A data chunk size that means "unknown" (a WAV streamed to a pipe, or RF64's placeholder).
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def wav_shortfall(path: str) -> tuple[int, int] | None:
    """(frames the header declares, frames the file holds) of a RIFF WAV whose data chunk
    is cut short, else None: libsndfile reads such a file as far as it goes, silently."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(f.fileno()).st_size
        pos, block = 12, 0
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            name, n = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if name == b"fmt ":
                fmt = f.read(min(n, 16))
                block = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else 0
            elif name == b"data":
                present = size - pos - 8
                if n in _UNKNOWN_SIZES or n <= present or block <= 0:
                    return None
                return n // block, present // block
            pos += 8 + n + (n & 1)  # chunks are word-aligned
    return None


def _check_wav_complete(path: str, sampling_rate: int) -> None:
    short = wav_shortfall(path)
    if short is not None:
        declared, held = short
        raise UserError(
            f"truncated WAV: the header declares {declared / sampling_rate:.3f} s "
            f"({declared} samples) and the file holds {held / sampling_rate:.3f} s: "
            f"{(declared - held) / sampling_rate:.3f} s are missing (copy or convert it again)",
            path,
        )


def audio_info(value: str) -> AudioInfo:
    """Rate, length and channels of a ``wav.scp`` value (files: from the header only)."""
    src = WavSource.parse(value)
    if src.kind == "file":
        return _file_info(src.target)
    x, sr = load(value)
    return AudioInfo(sr, x.shape[0], x.shape[1])


def _span(start: float, end: float | None, sr: int, total: int, what: str) -> tuple[int, int]:
    """Sample range of [start, end) seconds in audio of ``total`` samples."""
    dur = total / sr
    if start < 0 or (end is not None and end <= start):
        raise UserError(f"bad segment [{start}, {end}] for {what}")
    if start >= dur:
        raise UserError(
            f"segment starts at {start} s, after the end of the audio ({dur:.3f} s): {what}"
        )
    if end is not None and end > dur + MAX_OVERSHOOT:
        raise UserError(f"segment ends at {end} s, past the end of the audio ({dur:.3f} s): {what}")
    first = round(start * sr)
    last = total if end is None else min(total, round(end * sr))
    return first, last


def resample(x: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (exact ratio, e.g. 44100 -> 16000 is 160/441)."""
    if sr == target_sr:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(sr, target_sr)
    return resample_poly(x, target_sr // g, sr // g, axis=0).astype(np.float32)


def read_audio(
    wav_scp_value: str,
    start: float = 0.0,
    end: float | None = None,
    target_sr: int | None = 16000,
    channel: int | None = None,
) -> np.ndarray:
    """Samples of a ``wav.scp`` value as float32 mono at ``target_sr`` (None: native rate).

    ``start``/``end`` (seconds) cut a segment, as a ``segments`` line does; an end up to
    :data:`MAX_OVERSHOOT` past the audio is truncated.  ``channel`` None averages the
    channels, an index selects one.
    """
    src = WavSource.parse(wav_scp_value)
    if src.kind == "file":
        import soundfile as sf

        info = _file_info(src.target)
        first, last = _span(start, end, info.sampling_rate, info.num_samples, src.target)
        try:
            x, sr = sf.read(src.target, start=first, stop=last, dtype="float32", always_2d=True)
        except Exception as e:  # soundfile raises several types for unreadable input
            raise UserError(f"cannot read audio: {_sf_error(e)}", src.target) from None
    else:
        x, sr = load(wav_scp_value)
        first, last = _span(start, end, sr, x.shape[0], src.value)
        x = x[first:last]
    if channel is None:
        x = x.mean(axis=1)
    elif 0 <= channel < x.shape[1]:
        x = x[:, channel]
    else:
        raise UserError(f"no channel {channel} in {src.value} ({x.shape[1]} channels)")
    if target_sr is not None:
        x = resample(x, sr, target_sr)
    return np.ascontiguousarray(x, dtype=np.float32)


def to_wav_bytes(x: np.ndarray, sr: int) -> bytes:
    """Encode float samples (samples[, channels]) as a 32-bit float WAV file (lossless)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()

"""Whisper log-mel filterbanks through lhotse, equal to openai-whisper's front end.

The reference is openai-whisper's ``log_mel_spectrogram(pad_or_trim(load_audio(f)))``:
ffmpeg decodes to 16 kHz mono (the **average** of the channels, ``-ac 1``), the waveform is
zero-padded to 30 s, and the STFT (n_fft 400, hop 160, centred) of that window is mapped
to log10 mel, clamped at (max - 8) with max over the whole window, and scaled by
x -> (x + 4) / 4.  Features are (frames, n_mels) at 100 frames/s; ``n_mels`` is 80 for
Whisper up to large-v2 and 128 for large-v3.

What the variable-length features are (:class:`WhisperLogMel`), so that one store serves
both encoder modes:

* frame t (t < K, K = lhotse's frame count round(N / 160) for N samples) is frame t of the
  reference window: its STFT sees the audio followed by **zeros** (not the reflection of
  the audio's end that an STFT of the bare utterance would use), and the clamp uses the
  max over every frame of the zero-padded window (those past K included);
* so for ``pad30`` the encoder only has to append frames at the silence value
  max(M - 2, -1.5), M = the largest stored value (zeros give log10(1e-10), clamped to
  max - 8), to get the reference window.  The one difference left: the reference frames
  K..K+2, whose windows still hold the last <= 280 samples, become silence (they are past
  the utterance's duration, so lhotse has no place for them);
* ``variable`` encoding uses the K frames as they are.

Multi-channel cuts stay ``MultiCut`` s in the manifests (lazy, file-backed); the
extractor averages their channels, as ffmpeg does.  Resampling is lhotse's.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lhotse import CutSet, LilcomChunkyWriter, MonoCut
from lhotse.cut import MultiCut
from lhotse.features import WhisperFbank, WhisperFbankConfig
from lhotse.features.base import register_extractor
from lhotse.features.io import FeaturesWriter, NumpyHdf5Writer
from lhotse.features.whisper_fbank import log_mel_spectrogram
from lhotse.utils import compute_num_frames_from_samples

from soundwave.errors import UserError

SAMPLE_RATE = 16000
FRAME_RATE = 100  # log-mel frames per second (hop 160 at 16 kHz)
HOP = SAMPLE_RATE // FRAME_RATE
# Zeros appended before the STFT, as in the 30 s window: enough that every frame whose
# window holds audio is computed (the clamp's max is over all of them) and that the centred
# STFT's reflection at the end mirrors only zeros.
TAIL_ZEROS = 3 * HOP

# Feature stores by name.  Whisper's normalised log-mel spans about 4 units, so lilcom's
# default tick (2^-5) is coarse; 2^-12 rounds well below what the reference tests resolve.
STORAGE_TYPES: dict[str, Callable[[str | Path], FeaturesWriter]] = {
    "lilcom-fine": functools.partial(LilcomChunkyWriter, tick_power=-12),
    "lilcom": LilcomChunkyWriter,  # lhotse's default tick: lossy, smallest
    "hdf5": NumpyHdf5Writer,  # float32, lossless; needs h5py
}
DEFAULT_STORAGE = "lilcom-fine"
CHANNEL_ALIASES = {"left": 0, "right": 1}


@register_extractor
class WhisperLogMel(WhisperFbank):
    """lhotse's ``WhisperFbank`` made equal to openai-whisper on the frames it returns.

    Differences from ``WhisperFbank`` (see the module docstring for why): the channels of
    (C, N) input are averaged; the STFT sees the audio followed by zeros; the last frame is
    a real frame (``WhisperFbank`` fills a rounding frame with 0.0).
    """

    name = "whisper-logmel"

    def extract(self, samples: np.ndarray | torch.Tensor, sampling_rate: int) -> np.ndarray:
        if sampling_rate != self.sampling_rate:
            raise UserError(
                f"Whisper features need {self.sampling_rate} Hz audio, got {sampling_rate} Hz "
                "(resample the cuts first)"
            )
        x = torch.as_tensor(samples, dtype=torch.float32)
        if x.dim() == 2:
            x = x.mean(dim=0)
        num_frames = compute_num_frames_from_samples(x.shape[-1], 1 / FRAME_RATE, SAMPLE_RATE)
        feats = log_mel_spectrogram(
            torch.nn.functional.pad(x, (0, TAIL_ZEROS)),
            filters=self.filters,
            n_fft=self.n_fft,
            window=self.window,
            n_mels=self.num_filters,
            device=self.device,
        )
        return feats[:num_frames].cpu().numpy()


def whisper_fbank(n_mels: int = 80) -> WhisperLogMel:
    """The feature extractor of the toolkit (stored and on-the-fly features alike)."""
    if n_mels not in (80, 128):
        raise UserError(f"n_mels must be 80 or 128 (Whisper's mel banks), not {n_mels}")
    return WhisperLogMel(WhisperFbankConfig(num_filters=n_mels, device="cpu"))


def parse_channel(channel: str) -> int | None:
    """``"mix"`` -> None (average all channels), ``"left"``/``"right"``/``"N"`` -> index."""
    if channel == "mix":
        return None
    if channel in CHANNEL_ALIASES:
        return CHANNEL_ALIASES[channel]
    if channel.isdigit():
        return int(channel)
    raise UserError(f"--channel must be 'mix', 'left', 'right' or a channel index, not '{channel}'")


def _select_channel(cut: MonoCut | MultiCut, index: int) -> MonoCut:
    channels = cut.channel if isinstance(cut.channel, list) else [cut.channel]
    if index not in channels:
        raise UserError(
            f"utterance '{cut.id}': recording '{cut.recording_id}' has channels "
            f"{channels}, not channel {index}"
        )
    if isinstance(cut, MultiCut):
        return next(c for c in cut.to_mono(mono_downmix=False) if c.channel == index)
    return cut


def to_mono_16k(cuts: CutSet, channel: str = "mix") -> CutSet:
    """Resample to 16 kHz and choose the channel(s) that the features will see.

    ``channel``: "mix" keeps multi-channel cuts as they are (file-backed ``MultiCut`` s,
    whose channels :class:`WhisperLogMel` averages); "left", "right" or an integer keeps
    that channel (a ``MonoCut``), and is an error for a recording without it.
    """
    index = parse_channel(channel)
    if index is not None:
        cuts = cuts.map(functools.partial(_select_channel, index=index))
    return cuts.resample(SAMPLE_RATE)


def filter_by_duration(cuts: CutSet, min_s: float, max_s: float) -> tuple[CutSet, dict[str, float]]:
    """Keep cuts with ``min_s <= duration <= max_s``; report what was dropped."""
    kept, report = (
        [],
        {"kept": 0, "kept_hours": 0.0, "too_short": 0, "too_long": 0, "dropped_hours": 0.0},
    )
    for cut in cuts:
        if cut.duration < min_s:
            report["too_short"] += 1
        elif cut.duration > max_s:
            report["too_long"] += 1
        else:
            kept.append(cut)
            report["kept"] += 1
            report["kept_hours"] += cut.duration / 3600
            continue
        report["dropped_hours"] += cut.duration / 3600
    return CutSet.from_cuts(kept), report


def storage_writer(name: str) -> Callable[[str | Path], FeaturesWriter]:
    """The lhotse writer of a storage name in :data:`STORAGE_TYPES`."""
    if name not in STORAGE_TYPES:
        raise UserError(f"unknown feature storage '{name}' (one of: {', '.join(STORAGE_TYPES)})")
    if name == "hdf5" and importlib.util.find_spec("h5py") is None:
        raise UserError("feature storage 'hdf5' needs h5py (pip install h5py)")
    return STORAGE_TYPES[name]


def compute_and_store(
    cuts: CutSet,
    storage_path: str | Path,
    n_mels: int = 80,
    progress: bool = True,
    storage_type: str = DEFAULT_STORAGE,
) -> CutSet:
    """Extract Whisper log-mel for every cut into one archive; returns cuts with features.

    The archive (``storage_path`` plus the writer's suffix, e.g. ``.lca``) is written under
    a temporary name and renamed when complete, so an existing archive is replaced only by
    a finished one.  A cut whose audio cannot be read is a :class:`UserError` naming it.
    """
    extractor = whisper_fbank(n_mels)
    out = []
    with atomic_archive(storage_writer(storage_type), storage_path) as (storage, final):
        for cut in _progress(cuts, progress):
            try:
                out.append(cut.compute_and_store_features(extractor, storage))
            except UserError:
                raise
            except Exception as err:  # lhotse wraps unreadable audio in many types
                raise UserError(f"utterance '{cut.id}': cannot compute features: {err}") from None
    return CutSet.from_cuts(_moved(cut, final) for cut in out)


@contextlib.contextmanager
def atomic_archive(writer: type, storage_path: str | Path) -> Iterator[tuple[Any, Path]]:
    """An open lhotse storage writer on a temporary name, and the final path (the writer's
    suffix added) that it is renamed to when the block completes: a killed job leaves no
    archive behind, and an existing one is replaced only by a finished one.  Temporaries
    of killed jobs are removed first."""
    storage_path = Path(storage_path)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in storage_path.parent.glob(f".{storage_path.name}.tmp*"):
        _remove(stale)
    # ends in the path's own suffix, so that a writer keeps a suffix that is already its own
    tmp_base = storage_path.with_name(f".{storage_path.name}.tmp{os.getpid()}{storage_path.suffix}")
    try:
        with writer(tmp_base) as storage:
            tmp = Path(storage.storage_path)
            final = storage_path.with_name(storage_path.name + tmp.name[len(tmp_base.name) :])
            yield storage, final
        _remove(final)  # os.replace cannot replace a directory archive
        os.replace(tmp, final)
    finally:
        for leftover in storage_path.parent.glob(tmp_base.name + "*"):
            _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _moved(cut: MonoCut | MultiCut, path: Path) -> MonoCut | MultiCut:
    from lhotse.utils import fastcopy

    return fastcopy(cut, features=fastcopy(cut.features, storage_path=str(path)))


def _progress(cuts: CutSet, enabled: bool):
    if not enabled:
        return cuts
    from tqdm import tqdm

    return tqdm(cuts, desc="compute_fbank", unit="cut")

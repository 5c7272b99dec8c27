"""Whisper log-mel filterbanks through lhotse (``WhisperFbank``), stored with lilcom.

Features are (frames, n_mels) at 100 frames/s, normalised like Whisper's
``log_mel_spectrogram`` (log10, clamp to max-8, (x+4)/4).  ``n_mels`` must match the
encoder: 80 for Whisper up to large-v2, 128 for large-v3.
"""

from __future__ import annotations

from pathlib import Path

from lhotse import CutSet, LilcomChunkyWriter
from lhotse.cut import MultiCut
from lhotse.features import WhisperFbank, WhisperFbankConfig

from soundwave.errors import UserError

SAMPLE_RATE = 16000
FRAME_RATE = 100  # log-mel frames per second (hop 160 at 16 kHz)


def whisper_fbank(n_mels: int = 80) -> WhisperFbank:
    if n_mels not in (80, 128):
        raise UserError(f"n_mels must be 80 or 128 (Whisper's mel banks), not {n_mels}")
    return WhisperFbank(WhisperFbankConfig(num_filters=n_mels, device="cpu"))


def to_mono_16k(cuts: CutSet, channel: str = "mix") -> CutSet:
    """Resample to 16 kHz and reduce multi-channel cuts to one channel.

    ``channel``: "mix" averages the channels; an integer string keeps that channel.
    """

    def mono(cut):
        if isinstance(cut, MultiCut):
            if channel == "mix":
                return cut.to_mono(mono_downmix=True)
            index = int(channel)
            if index not in cut.channel:
                raise UserError(f"cut {cut.id} has channels {cut.channel}, not {index}")
            return (
                cut.with_channels(index) if hasattr(cut, "with_channels") else cut.to_mono()[index]
            )
        return cut

    return cuts.map(mono).resample(SAMPLE_RATE)


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


def compute_and_store(
    cuts: CutSet, storage_path: str | Path, n_mels: int = 80, progress: bool = True
) -> CutSet:
    """Extract Whisper log-mel for every cut into a lilcom archive; returns cuts with features."""
    storage_path = Path(storage_path)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    return cuts.compute_and_store_features(
        extractor=whisper_fbank(n_mels),
        storage_path=storage_path,
        storage_type=LilcomChunkyWriter,
        num_jobs=1,
        progress_bar=progress,
    )

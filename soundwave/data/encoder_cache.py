"""Stored outputs of the frozen Whisper encoder: writing, reading, batching, masking.

The encoder never trains, so its output for an utterance is the same in every epoch and
stage; :mod:`soundwave.models.encoder_cache` computes it once and this module stores it.
Each cut carries two custom fields, so the cache travels with the manifests:

* ``sw_encoder_out``: a lhotse :class:`~lhotse.array.Array` of the (T50, d) frames, in
  float16, bfloat16 (stored as its uint16 bit pattern: numpy has no bfloat16) or float32;
* ``sw_encoder_id``: which encoder weights and input mode made them
  (:meth:`soundwave.models.encoder.WhisperAudioEncoder.cache_id`); a model with another
  encoder refuses the batch (:meth:`EncoderFrames.check`).

The arrays are plain (not temporal) lhotse arrays: lhotse would otherwise pad or trim
them to the cut's duration, and the encoder's frame count is not always duration / 20 ms.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from lhotse import CutSet
from lhotse.features.io import FeaturesWriter, NumpyFilesWriter, NumpyHdf5Writer
from lhotse.utils import fastcopy

from soundwave.errors import UserError
from soundwave.features.fbank import atomic_archive, load_stored

FRAMES_KEY = "sw_encoder_out"
ID_KEY = "sw_encoder_id"
CACHE_DTYPES = ("float16", "bfloat16", "float32")
# "numpy": a directory of .npy files (no extra dependency); "hdf5": one file (needs h5py)
STORAGE_TYPES: dict[str, type[FeaturesWriter]] = {
    "numpy": NumpyFilesWriter,
    "hdf5": NumpyHdf5Writer,
}
# SpecAugment-style masks on the 50 Hz frames (data.encoder_mask), in training only
TIME_MASKS, TIME_MASK_FRAMES = 2, 20  # up to 0.4 s each
FEATURE_MASKS, FEATURE_MASK_FRACTION = 2, 0.1  # up to a tenth of the channels each


@dataclass
class EncoderFrames:
    """A batch of stored encoder outputs: what the model uses instead of running Whisper."""

    frames: torch.Tensor  # (B, T50, d) float32, zero-padded
    lens: torch.Tensor  # (B,)
    ids: list[str]  # the encoder id each utterance's frames were made by
    cut_ids: list[str]

    def check(self, expected: str) -> None:
        """A :class:`UserError` unless every utterance was encoded by the ``expected`` encoder."""
        for cut_id, got in zip(self.cut_ids, self.ids, strict=True):
            if got != expected:
                raise UserError(
                    f"utterance '{cut_id}': its encoder cache was made by encoder '{got}', "
                    f"but the model's encoder is '{expected}'; recompute the cache "
                    "(soundwave.bin.cache_encoder) or set data.encoder_cache=false"
                )


def to_storable(frames: torch.Tensor, dtype: str) -> np.ndarray:
    """(T, d) float tensor -> the numpy array stored for ``dtype``."""
    if dtype not in CACHE_DTYPES:
        raise UserError(f"cache dtype must be one of {', '.join(CACHE_DTYPES)}, not '{dtype}'")
    x = frames.detach().cpu()
    if dtype == "bfloat16":
        return x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    return x.to(getattr(torch, dtype)).numpy()


def from_stored(array: np.ndarray) -> torch.Tensor:
    """A stored array -> float32 frames (uint16 holds bfloat16 bits)."""
    if array.dtype == np.uint16:
        return torch.from_numpy(array.view(np.int16).copy()).view(torch.bfloat16).float()
    return torch.from_numpy(np.ascontiguousarray(array)).float()


def has_cache(cut) -> bool:
    return bool(cut.custom) and FRAMES_KEY in cut.custom and ID_KEY in cut.custom


def load_frames(cut) -> torch.Tensor:
    """The cached (T50, d) float32 frames of ``cut``; one clear line if it has none."""
    if not has_cache(cut):
        raise UserError(
            f"utterance '{cut.id}' has no encoder cache ({FRAMES_KEY}): run "
            "soundwave.bin.cache_encoder on its manifest or set data.encoder_cache=false"
        )
    array = load_stored(cut, FRAMES_KEY, cut.custom[FRAMES_KEY].load, "encoder cache")
    return from_stored(array)


def collate_frames(cuts: CutSet, rngs: list[random.Random] | None = None) -> EncoderFrames:
    """The cached frames of ``cuts`` as one zero-padded batch; ``rngs`` (one per cut)
    draw SpecAugment-style masks (:func:`mask_frames`)."""
    rows = [load_frames(c) for c in cuts]
    if rngs is not None:
        rows = [mask_frames(x, rng) for x, rng in zip(rows, rngs, strict=True)]
    lens = torch.tensor([x.shape[0] for x in rows], dtype=torch.long)
    frames = torch.zeros(len(rows), int(lens.max()), rows[0].shape[1])
    for i, x in enumerate(rows):
        frames[i, : x.shape[0]] = x
    return EncoderFrames(frames, lens, [c.custom[ID_KEY] for c in cuts], [c.id for c in cuts])


def mask_frames(x: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Zero a few time spans and channel bands of (T, d) encoder frames (SpecAugment's
    masks where the cache is: after the encoder, whose input the cache never sees)."""
    x = x.clone()
    t, d = x.shape
    for _ in range(TIME_MASKS):
        width = rng.randint(0, min(TIME_MASK_FRAMES, t // 5))
        start = rng.randint(0, t - width)
        x[start : start + width] = 0.0
    for _ in range(FEATURE_MASKS):
        width = rng.randint(0, int(d * FEATURE_MASK_FRACTION))
        start = rng.randint(0, d - width)
        x[:, start : start + width] = 0.0
    return x


def storage_writer(name: str) -> type[FeaturesWriter]:
    if name not in STORAGE_TYPES:
        raise UserError(f"unknown cache storage '{name}' (one of: {', '.join(STORAGE_TYPES)})")
    if name == "hdf5":
        import importlib.util

        if importlib.util.find_spec("h5py") is None:
            raise UserError("cache storage 'hdf5' needs h5py (or use --storage-type numpy)")
    return STORAGE_TYPES[name]


def write_cache(
    items: Iterable[tuple[object, torch.Tensor]],
    storage_path: str | Path,
    encoder_id: str,
    dtype: str = "float16",
    storage_type: str = "numpy",
) -> CutSet:
    """Store each (cut, (T50, d) frames) pair; returns the cuts with the cache fields.

    The archive (``storage_path``, plus ``.h5`` for hdf5; a directory for numpy) is written
    under a temporary name and renamed when complete: a killed job leaves no archive, and
    an existing one is replaced only by a finished one.
    """
    path = Path(storage_path)
    if storage_type == "hdf5" and path.suffix != ".h5":
        path = path.with_name(path.name + ".h5")
    out = []
    with atomic_archive(storage_writer(storage_type), path) as (storage, final):
        for cut, frames in items:
            out.append((cut, storage.store_array(cut.id, to_storable(frames, dtype))))
    return CutSet.from_cuts(_with_cache(cut, array, final, encoder_id) for cut, array in out)


def _with_cache(cut, array, path: Path, encoder_id: str):
    array = fastcopy(array, storage_path=str(path))
    return fastcopy(cut, custom={**(cut.custom or {}), FRAMES_KEY: array, ID_KEY: encoder_id})


def batches_by_duration(cuts: CutSet, max_duration: float) -> Iterator[CutSet]:
    """``cuts`` in order, in batches of at most ``max_duration`` seconds (at least one cut)."""
    batch: list = []
    total = 0.0
    for cut in cuts:
        if batch and total + cut.duration > max_duration:
            yield CutSet.from_cuts(batch)
            batch, total = [], 0.0
        batch.append(cut)
        total += cut.duration
    if batch:
        yield CutSet.from_cuts(batch)

"""Run the frozen Whisper encoder once per utterance and store its output with the cuts.

The encoder is built exactly as the model builds it (:class:`WhisperAudioEncoder` with the
model config's ``encoder_input``, ``encoder_chunk_s``, ``encoder_full_window`` and
``encoder_dtype``) and fed exactly what training feeds it
(:func:`soundwave.data.collate.batch_features`), so a model reading the cache
(``data.encoder_cache: true``) gets the frames it would have computed, up to the storage
dtype.  Storage and the cut fields are :mod:`soundwave.data.encoder_cache`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from lhotse import CutSet

from soundwave.config import apply_overrides, read_yaml
from soundwave.data.collate import batch_features
from soundwave.data.encoder_cache import batches_by_duration, write_cache
from soundwave.errors import UserError
from soundwave.features.fbank import whisper_fbank
from soundwave.models.config import SoundwaveConfig
from soundwave.models.encoder import WhisperAudioEncoder
from soundwave.models.stage_dir import read_stage_config


@dataclass
class CacheOptions:
    dtype: str = "float16"  # float16 | bfloat16 | float32 (lossless, for exact comparisons)
    storage_type: str = "numpy"  # numpy (a directory of .npy) | hdf5 (one file, needs h5py)
    max_duration: float = 200.0  # seconds of audio per encoder batch
    progress: bool = False


def encoder_config(
    model_dir: str | None = None,
    encoder: str | None = None,
    config: str | None = None,
    overrides: list[str] | None = None,
) -> SoundwaveConfig:
    """The model config whose encoder makes the cache: a stage dir's, a training YAML's
    ``model:`` section, or a bare Whisper dir with the defaults; then ``model.key=value``
    (or ``key=value``) overrides such as ``model.encoder_input=pad30``."""
    if sum(x is not None for x in (model_dir, encoder, config)) != 1:
        raise UserError("give exactly one of --model-dir, --encoder and --config")
    if model_dir is not None:
        fields = read_stage_config(model_dir).to_dict()
    elif config is not None:
        fields = read_yaml(config).get("model") or {}
        if "encoder_path" not in fields:
            raise UserError("the config has no model.encoder_path", config)
    else:
        fields = {"encoder_path": encoder}
    fields.setdefault("llm_path", "")  # the LLM is never loaded here
    data = {"model": fields}
    apply_overrides(data, [o if o.startswith("model.") else f"model.{o}" for o in overrides or []])
    return SoundwaveConfig.from_dict(data["model"])


def encode_cuts(
    cuts: CutSet, encoder: WhisperAudioEncoder, max_duration: float, progress: bool = False
) -> Iterator[tuple[object, torch.Tensor]]:
    """(cut, (T50, d) float32 frames on the CPU) for every cut, longest first (less padding)."""
    cuts = cuts.sort_by_duration(ascending=False)
    extractor = None
    first = next(iter(cuts), None)
    if first is not None and not first.has_features:
        extractor = whisper_fbank(encoder.n_mels)
    batches = batches_by_duration(cuts, max_duration)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="cache_encoder", unit="batch")
    for batch in batches:
        feats, lens, tails = batch_features(batch, extractor)
        frames, out_lens = encoder(
            feats.transpose(1, 2), lens, None if tails is None else tails.transpose(1, 2)
        )
        frames, out_lens = frames.cpu(), out_lens.tolist()
        for i, cut in enumerate(batch):
            yield cut, frames[i, : out_lens[i]]


def cache_encoder_outputs(
    cuts: CutSet, cfg: SoundwaveConfig, storage: str | Path, opts: CacheOptions | None = None
) -> CutSet:
    """Encode every cut with ``cfg``'s encoder into one archive at ``storage`` (written
    under a temporary name, renamed when complete); returns the cuts, in their order,
    with the cache fields (``sw_encoder_out``, ``sw_encoder_id``)."""
    opts = opts or CacheOptions()
    encoder = WhisperAudioEncoder.from_config(cfg)
    if torch.cuda.is_available():
        encoder = encoder.cuda()
    cuts = cuts.to_eager()
    order = {cut.id: i for i, cut in enumerate(cuts)}
    items = encode_cuts(cuts, encoder, opts.max_duration, opts.progress)
    cached = write_cache(items, storage, encoder.cache_id(), opts.dtype, opts.storage_type)
    return CutSet.from_cuts(sorted(cached, key=lambda c: order[c.id]))

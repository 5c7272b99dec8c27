"""Export a cuts manifest and its stored data to a lhotse Shar directory.

lhotse's own :class:`~lhotse.shar.SharWriter` writes the shards; this chooses what goes
into them so that a cut read back from Shar (:mod:`soundwave.data.shar`) trains exactly as
the original:

* ``features``: the stored log-mel (lilcom at the project's fine tick by default, which
  re-encodes features stored at that tick or lhotse's coarser one without loss; ``numpy``
  for float32) and its ``whisper_tail`` frames (numpy);
* ``encoder``: the encoder-output cache (``sw_encoder_out``, numpy, its dtype kept; the
  encoder id stays in the cut);
* ``audio``: the cut's samples (FLAC, lossless for 16-bit audio).

Everything else a cut carries (transcripts, translations, labels, tasks, speaker,
gender: supervision and cut ``custom`` values) travels in the cuts shards as it is; data
that is not exported stays a reference to its original file.  The directory is built
under a temporary name and renamed when every shard is closed: a killed export leaves no
directory that a reader would take for a Shar export.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from lhotse.cut import Cut
from lhotse.shar import ArrayTarWriter, SharWriter

from soundwave.data.encoder_cache import FRAMES_KEY, has_cache
from soundwave.data.lhotse_io import load_cuts
from soundwave.errors import UserError
from soundwave.features.fbank import TAIL_KEY
from soundwave.fileio import atomic_dir, reported_as_user_error

KINDS = ("features", "encoder", "audio")
# --feature-format -> (lhotse compression, lilcom tick power)
FEATURE_FORMATS = {"lilcom-fine": ("lilcom", -12), "lilcom": ("lilcom", -5), "numpy": ("numpy", -5)}


def default_kinds(cut: Cut) -> list[str]:
    """What a manifest's first cut carries, audio aside: its features, its encoder cache."""
    kinds = ["features"] if cut.has_features else []
    return kinds + (["encoder"] if has_cache(cut) else [])


def _missing(cut: Cut, kinds: Iterable[str]) -> str | None:
    if "features" in kinds and not cut.has_features:
        return "no stored features (run compute_fbank first)"
    if "encoder" in kinds and not has_cache(cut):
        return "no encoder cache (run cache_encoder first)"
    if "audio" in kinds and not cut.has_recording:
        return "no recording"
    return None


def _lhotse_fields(kinds: Iterable[str], with_tail: bool, feature_format: str) -> dict[str, str]:
    fields = {}
    if "features" in kinds:
        fields["features"] = FEATURE_FORMATS[feature_format][0]
        if with_tail:
            fields[TAIL_KEY] = "numpy"
    if "encoder" in kinds:
        fields[FRAMES_KEY] = "numpy"
    if "audio" in kinds:
        fields["recording"] = "flac"
    return fields


def _writer(out: Path, fields: dict[str, str], shard_size: int, feature_format: str) -> SharWriter:
    writer = SharWriter(out, fields=fields, shard_size=shard_size, warn_unused_fields=False)
    if "features" in fields:  # lhotse's "lilcom" writer has a tick of its own: set ours
        compression, tick = FEATURE_FORMATS[feature_format]
        writer.writers["features"] = ArrayTarWriter(
            f"{out}/features.%06d.tar", shard_size, compression=compression, lilcom_tick_power=tick
        )
    return writer


def _checked(cuts: Iterable[Cut], kinds: list[str], manifest: Path) -> Iterator[Cut]:
    for n, cut in enumerate(cuts, 1):
        why = _missing(cut, kinds)
        if why:
            raise UserError(f"utterance '{cut.id}' (cut {n}) has {why}", manifest)
        yield cut


def _remove_stale(out: Path) -> None:
    """Temporaries of killed exports to ``out`` (atomic_dir's names)."""
    for stale in out.parent.glob(f".{out.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


def export_shar(
    cuts_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    kinds: list[str] | None = None,
    shard_size: int = 1000,
    feature_format: str = "lilcom-fine",
    progress: bool = False,
) -> dict[str, object]:
    """Write the cuts of ``cuts_path`` and their ``kinds`` of data (default: what its first
    cut carries, audio aside) to the Shar directory ``out_dir``, ``shard_size`` cuts per
    shard; returns what was written (cuts, shards, lhotse fields)."""
    manifest, out = Path(cuts_path), Path(out_dir)
    if shard_size < 1:
        raise UserError(f"--shard-size must be at least 1, not {shard_size}")
    if feature_format not in FEATURE_FORMATS:
        raise UserError(f"unknown feature format '{feature_format}' ({', '.join(FEATURE_FORMATS)})")
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        raise UserError(f"unknown field '{unknown[0]}' (one of: {', '.join(KINDS)})")
    cuts = load_cuts(manifest, lazy=True)
    first = next(iter(cuts), None)
    if first is None:
        raise UserError("no cuts to export", manifest)
    kinds = list(dict.fromkeys(kinds or default_kinds(first)))
    if not kinds:
        raise UserError(
            "its cuts carry neither features nor an encoder cache: name --fields", manifest
        )
    why = _missing(first, kinds)  # before a progress bar starts
    if why:
        raise UserError(f"utterance '{first.id}' (cut 1) has {why}", manifest)
    fields = _lhotse_fields(kinds, first.has_custom(TAIL_KEY), feature_format)
    stream = _checked(cuts, kinds, manifest)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, desc="export_shar", unit="cut")
    _remove_stale(out)
    count = 0
    with (
        reported_as_user_error(out, "cannot write the Shar export"),
        atomic_dir(out) as tmp,
        _writer(tmp, fields, shard_size, feature_format) as writer,
    ):
        for cut in stream:
            writer.write(cut)
            count += 1
    return {"cuts": count, "shards": -(-count // shard_size), "fields": fields}

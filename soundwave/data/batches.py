"""From lhotse manifests to training and evaluation batches: task mixing and sampling.

A batch is the keyword arguments of the model's ``forward`` (see :mod:`.collate`).
Training data is an endless stream: :class:`soundwave.tasks.MixedSampler` draws
(dataset, task) pairs with temperature weights and tags each cut with its task; lhotse's
bucketing sampler batches that stream by duration.  The instruction phrasing is drawn
with a generator seeded by (seed, stream position, cut id).  Everything is a function of
the seed, so a resumed run (which skips the batches already seen) sees exactly the
batches an uninterrupted run would.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, DynamicCutSampler

from soundwave.config import require
from soundwave.data.collate import SpeechTaskDataset, soundwave_inputs, tag_cut
from soundwave.data.lhotse_io import load_cuts
from soundwave.data.shar import SharCuts
from soundwave.errors import UserError
from soundwave.tasks import MixedSampler, MixtureEntry, MixtureSpec, get_task


@dataclass
class DataSource:
    # lhotse CutSet manifest (jsonl.gz) with features unless on_the_fly, or a Shar directory
    # (soundwave.bin.export_shar), streamed shard by shard
    cuts: str
    tasks: list[str] = field(default_factory=lambda: ["asr"])
    weight: float = 1.0
    name: str | None = None  # dataset name in logs and the mixture (default: the manifest path)

    @property
    def key(self) -> str:
        return self.name or self.cuts


@dataclass
class DataConfig:
    train: list[DataSource] = field(default_factory=list)
    valid: list[DataSource] = field(default_factory=list)
    temperature: float = 1.0  # mixing of several train sources: p_i ∝ (w_i n_i)^(1/T)
    sampler: str = "bucketing"  # bucketing (DynamicBucketingSampler) | simple (DynamicCutSampler)
    max_duration: float = 100.0  # seconds of audio per batch (per process)
    max_cuts: int | None = None
    num_buckets: int = 10
    shuffle: bool = True
    num_workers: int = 0
    on_the_fly: bool = False  # compute log-mel in the data loader instead of reading it
    spec_augment: bool = False  # SpecAugment (time warp, frequency and time masks) in training
    # vocal-tract-length perturbation in training: each utterance's mel axis is stretched by
    # a factor drawn from [1 - freq_warp, 1 + freq_warp] (0: off); new voices for free
    freq_warp: float = 0.0
    n_mels: int = 80
    valid_max_utts: int = 64  # utterances decoded for validation metrics
    # read the frozen encoder's stored outputs (soundwave.bin.cache_encoder) instead of
    # log-mel: Whisper runs once per utterance, not once per epoch and stage
    encoder_cache: bool = False
    # with encoder_cache, in training: SpecAugment-style time and channel masks on the
    # encoder outputs (the log-mel augmentations cannot reach a cache)
    encoder_mask: bool = False
    # Shar training sources: each pass reads the shards in an order drawn from the seed and
    # the passes so far (lhotse's shuffle_shards with stateful_shuffle); false: in order
    shar_shuffle: bool = True
    # cuts the training sampler holds (its bucketing or shuffle buffer, and the cuts read to
    # estimate the bucket bins); null: lhotse's defaults (20000, 10000).  A cut read from
    # Shar holds its data in memory, so this bounds the loader's memory
    buffer_size: int | None = None

    def __post_init__(self) -> None:
        if self.sampler not in ("bucketing", "simple"):
            raise ValueError(f"data.sampler must be bucketing or simple, not '{self.sampler}'")
        if not 0.0 <= self.freq_warp < 0.5:
            raise ValueError(f"data.freq_warp must be in [0, 0.5), not {self.freq_warp}")
        # lhotse's samplers assert on these (a traceback); NaN fails the comparison too
        require(
            self.max_duration > 0 and math.isfinite(self.max_duration),
            "max_duration",
            f"must be a positive number of seconds, not {self.max_duration}",
        )
        require(
            self.max_cuts is None or self.max_cuts >= 1,
            "max_cuts",
            f"must be at least 1 (or null), not {self.max_cuts}",
        )
        require(self.num_buckets >= 1, "num_buckets", f"must be at least 1, not {self.num_buckets}")
        require(
            self.buffer_size is None or self.buffer_size >= 1,
            "buffer_size",
            f"must be at least 1 (or null), not {self.buffer_size}",
        )
        if self.encoder_cache:
            mel = [k for k in ("spec_augment", "freq_warp", "on_the_fly") if getattr(self, k)]
            if mel:
                raise ValueError(
                    f"data.encoder_cache reads stored encoder outputs, but data.{mel[0]} needs "
                    "the log-mel before the encoder; turn it off (data.encoder_mask=true masks "
                    "the encoder outputs instead)"
                )
        elif self.encoder_mask:
            raise ValueError(
                "data.encoder_mask masks cached encoder outputs: it needs data.encoder_cache=true"
            )


class MixedCuts:
    """Re-iterable endless cut stream drawn by :class:`MixedSampler`, each cut tagged with its task."""

    def __init__(
        self, sources: list[DataSource], temperature: float, seed: int, shar_shuffle: bool = True
    ):
        names = [s.key for s in sources]
        if len(set(names)) != len(names):
            raise UserError(f"data.train lists a dataset twice: {names}")
        self.spec = MixtureSpec(
            tuple(MixtureEntry(s.key, tuple(s.tasks), s.weight) for s in sources), temperature
        )
        self.cuts = {
            s.key: _passes(load_cuts(s.cuts, lazy=True, seed=seed, shuffle_shards=shar_shuffle))
            for s in sources
        }
        # a Shar source knows its size from its cuts files; reading it would read its data
        self.sizes = {
            k: len(v) if isinstance(v, SharCuts) else sum(1 for _ in v)
            for k, v in self.cuts.items()
        }
        self.seed = seed

    def __iter__(self):
        mixer = MixedSampler(self.spec, self.cuts, sizes=self.sizes, seed=self.seed)
        for position, (cut, task) in enumerate(mixer):
            yield tag_cut(cut, task, position)


def _passes(cuts: CutSet) -> CutSet | SharCuts:
    """What the mixture reads: a Shar source itself, whose passes it numbers (the shard
    order of pass k is then the same whatever else read the source), else the cuts."""
    return cuts.data if isinstance(cuts.data, SharCuts) else cuts


def train_cuts(cfg: DataConfig, seed: int) -> CutSet:
    if not cfg.train:
        raise UserError("no training data: set data.train in the config")
    return CutSet(MixedCuts(cfg.train, cfg.temperature, seed, cfg.shar_shuffle))


def for_task(cuts: CutSet, task: str) -> CutSet:
    """A fixed pass over ``cuts`` for ``task`` (validation, decoding)."""
    get_task(task)
    return cuts.map(functools.partial(tag_cut, task=task, position=0))


def make_sampler(
    cuts: CutSet, cfg: DataConfig, seed: int, shuffle: bool, world_size: int = 1, rank: int = 0
):
    common = dict(
        max_duration=cfg.max_duration,
        max_cuts=cfg.max_cuts,
        shuffle=shuffle,
        seed=seed,
        drop_last=False,
        world_size=world_size,
        rank=rank,
    )
    if cfg.sampler == "bucketing":
        buffer = {}
        if cfg.buffer_size is not None:
            buffer = dict(buffer_size=cfg.buffer_size, num_cuts_for_bins_estimate=cfg.buffer_size)
        return DynamicBucketingSampler(cuts, num_buckets=cfg.num_buckets, **buffer, **common)
    buffer = {} if cfg.buffer_size is None else {"shuffle_buffer_size": cfg.buffer_size}
    return DynamicCutSampler(cuts, **buffer, **common)


class BatchFactory:
    """``make_batches(epoch, skip)`` for the trainer: this rank's batches, exactly resumable."""

    def __init__(
        self,
        cfg: DataConfig,
        seed: int,
        world_size: int = 1,
        rank: int = 0,
        inputs: Callable[[dict[str, Any]], dict[str, Any]] = soundwave_inputs,
    ):
        self.cfg, self.seed, self.inputs = cfg, seed, inputs
        self.sampler = make_sampler(train_cuts(cfg, seed), cfg, seed, cfg.shuffle, world_size, rank)
        self.dataset = SpeechTaskDataset(
            cfg.n_mels,
            cfg.on_the_fly,
            training=True,
            seed=seed,
            spec_augment=cfg.spec_augment,
            freq_warp=cfg.freq_warp,
            encoder_cache=cfg.encoder_cache,
            encoder_mask=cfg.encoder_mask,
        )

    def __call__(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        self.sampler.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            # islice calls iter() once: a second iter() would reset a lhotse sampler
            sampler=itertools.islice(self.sampler, skip, None),
            batch_size=None,
            num_workers=self.cfg.num_workers,
            persistent_workers=False,
            # its own generator: creating a loader must not draw from the global RNG, or a
            # resumed run (which creates one after restoring the RNG) would drift
            generator=torch.Generator().manual_seed(self.seed + epoch),
        )
        for batch in loader:
            yield self.inputs(batch)


def spread_subset(cuts: CutSet, n: int) -> CutSet:
    """``n`` cuts evenly spaced through ``cuts`` in their order (all of them if fewer).

    Data dirs are sorted by utterance id, i.e. by speaker: the first ``n`` would be the
    first speakers only (in mini_synth the first dev utterances are its flite speakers,
    and validation WER ran far above the whole dev set's).
    """
    cuts = cuts.to_eager()
    total = len(cuts)
    if n >= total:
        return cuts
    return CutSet.from_cuts(cuts[i * total // n] for i in range(n))


def eval_batches(
    cuts: CutSet,
    task: str,
    cfg: DataConfig,
    max_utts: int | None = None,
    instruction: str | None = None,
    need_target: bool = True,
) -> Iterator[dict[str, Any]]:
    """Fixed-order batches of ``task`` for validation/decoding, with the fixed evaluation
    instruction (or ``instruction``); utterances without a target for ``task`` are left
    out unless ``need_target`` is false.  ``max_utts`` takes that many utterances evenly
    spread over ``cuts`` (see :func:`spread_subset`)."""
    if max_utts:
        cuts = spread_subset(cuts, max_utts)
    cuts = for_task(cuts, task)  # tags only the cuts that are decoded
    with warnings.catch_warnings():
        # a subset spread over the set is held in memory on purpose (fixed order, read
        # once): lhotse's advice to read it lazily does not apply, and its warning would
        # come before every one-line error of a decoding or validation
        warnings.filterwarnings("ignore", "You are using DynamicCutSampler with an eagerly")
        sampler = DynamicCutSampler(
            cuts, max_duration=cfg.max_duration, max_cuts=cfg.max_cuts, shuffle=False
        )
    dataset = SpeechTaskDataset(
        cfg.n_mels,
        cfg.on_the_fly,
        training=False,
        instruction=instruction,
        need_target=need_target,
        encoder_cache=cfg.encoder_cache,
    )
    for batch_cuts in sampler:
        yield dataset[batch_cuts]

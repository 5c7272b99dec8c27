"""From lhotse manifests to training batches: task mixing, sampling, collation.

A batch is the keyword arguments of the model's ``forward``: ``feats`` (B, n_mels, T)
Whisper log-mel, ``feat_lens`` (B,), and per utterance the task ``instructions``,
``targets`` and ``transcripts`` (the CTC targets).

Training data is an endless stream: :class:`soundwave.tasks.MixedSampler` draws
(dataset, task) pairs with temperature weights and tags each cut with its task; lhotse's
bucketing sampler batches that stream by duration.  The instruction phrasing is drawn
with a generator seeded by (seed, stream position, cut id).  Everything is a function of
the seed, so a resumed run (which skips the batches already seen) sees exactly the
batches an uninterrupted run would.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, DynamicCutSampler, OnTheFlyFeatures, SpecAugment
from lhotse.dataset.collation import collate_features

from soundwave.errors import UserError
from soundwave.features.fbank import FRAME_RATE, whisper_fbank
from soundwave.tasks import MixedSampler, MixtureEntry, MixtureSpec, cut_fields, get_task

GENDER = get_task("gender")
TASK_KEY = "sw_task"  # set on each training cut: the task it serves
POSITION_KEY = "sw_position"  # and its position in the mixed stream


@dataclass
class DataSource:
    cuts: str  # lhotse CutSet manifest (jsonl.gz) with features unless on_the_fly
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

    def __post_init__(self) -> None:
        if self.sampler not in ("bucketing", "simple"):
            raise ValueError(f"data.sampler must be bucketing or simple, not '{self.sampler}'")
        if not 0.0 <= self.freq_warp < 0.5:
            raise ValueError(f"data.freq_warp must be in [0, 0.5), not {self.freq_warp}")


def load_cuts(path: str | Path) -> CutSet:
    path = Path(path)
    if not path.is_file():
        raise UserError("manifest not found (run the manifest/fbank stages first)", path)
    return (
        CutSet.from_jsonl_lazy(path)
        if str(path).endswith((".jsonl", ".jsonl.gz"))
        else CutSet.from_file(path)
    )


def _tag(cut, task: str, position: int):
    cut.custom = {**(cut.custom or {}), TASK_KEY: task, POSITION_KEY: position}
    return cut


class MixedCuts:
    """Re-iterable endless cut stream drawn by :class:`MixedSampler`, each cut tagged with its task."""

    def __init__(self, sources: list[DataSource], temperature: float, seed: int):
        names = [s.key for s in sources]
        if len(set(names)) != len(names):
            raise UserError(f"data.train lists a dataset twice: {names}")
        self.spec = MixtureSpec(
            tuple(MixtureEntry(s.key, tuple(s.tasks), s.weight) for s in sources), temperature
        )
        self.cuts = {s.key: load_cuts(s.cuts) for s in sources}
        self.sizes = {k: sum(1 for _ in v) for k, v in self.cuts.items()}
        self.seed = seed

    def __iter__(self):
        mixer = MixedSampler(self.spec, self.cuts, sizes=self.sizes, seed=self.seed)
        for position, (cut, task) in enumerate(mixer):
            yield _tag(cut, task, position)


def train_cuts(cfg: DataConfig, seed: int) -> CutSet:
    if not cfg.train:
        raise UserError("no training data: set data.train in the config")
    return CutSet(MixedCuts(cfg.train, cfg.temperature, seed))


def for_task(cuts: CutSet, task: str) -> CutSet:
    """A fixed pass over ``cuts`` for ``task`` (validation, decoding)."""
    get_task(task)
    return cuts.map(functools.partial(_tag, task=task, position=0))


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
        return DynamicBucketingSampler(cuts, num_buckets=cfg.num_buckets, **common)
    return DynamicCutSampler(cuts, **common)


def stable_seed(key: str) -> int:
    """A seed derived from ``key`` alone: the same in every process and after a resume."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little")


def _rng_for(seed: int, position: int, cut_id: str) -> random.Random:
    return random.Random(stable_seed(f"{seed}/{position}/{cut_id}"))


def warp_mel_axis(feats: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Stretch the mel axis of (B, T, F) log-mels by ``factors`` (B,), linear interpolation.

    Output bin ``m`` reads input bin ``m / factor``: a factor above 1 moves the spectrum up
    (a shorter vocal tract), below 1 down; bins read from beyond the top repeat the top bin.
    """
    n = feats.shape[-1]
    pos = (torch.arange(n, dtype=feats.dtype) / factors[:, None].to(feats.dtype)).clamp(max=n - 1)
    low = pos.floor().long()
    high = (low + 1).clamp(max=n - 1)
    frames = feats.shape[1]
    below = feats.gather(2, low[:, None, :].expand(-1, frames, -1))
    above = feats.gather(2, high[:, None, :].expand(-1, frames, -1))
    return torch.lerp(below, above, (pos - low.to(pos.dtype))[:, None, :])


class SpeechTaskDataset(torch.utils.data.Dataset):
    """Turns a CutSet mini-batch into model inputs (lhotse map-style dataset)."""

    def __init__(
        self,
        n_mels: int = 80,
        on_the_fly: bool = False,
        training: bool = True,
        seed: int = 0,
        spec_augment: bool = False,
        freq_warp: float = 0.0,
    ):
        self.freq_warp = freq_warp if training else 0.0
        self.extractor = OnTheFlyFeatures(whisper_fbank(n_mels)) if on_the_fly else None
        self.training = training
        self.seed = seed
        # masks scaled to Whisper's 100 frames/s and 80-128 mel bins
        self.augment = None
        if spec_augment and training:
            self.augment = SpecAugment(
                time_warp_factor=40,
                features_mask_size=n_mels // 6,
                num_frame_masks=4,
                frames_mask_size=40,
            )

    def __getitem__(self, cuts: CutSet) -> dict[str, Any]:
        cuts = cuts.sort_by_duration(ascending=False)
        ids, tasks, instructions, targets, transcripts, genders, keep = [], [], [], [], [], [], []
        warps = []
        for cut in cuts:
            fields = cut_fields(cut)
            task = get_task(cut.custom[TASK_KEY])
            target = task.target(fields)
            if target is None:
                continue
            rng = _rng_for(self.seed, cut.custom[POSITION_KEY], cut.id) if self.training else None
            keep.append(cut)
            ids.append(cut.id)
            tasks.append(task.name)
            instructions.append(task.instruction(fields, rng))
            if self.freq_warp:  # drawn after the instruction, which stays as without warping
                warps.append(1.0 + rng.uniform(-self.freq_warp, self.freq_warp))
            targets.append(target)
            transcripts.append(fields.get("text") or "")
            genders.append(GENDER.target(fields))
        if not keep:
            raise UserError(
                f"no utterance in a batch has a target for its tasks (first: {cuts[0].id})"
            )
        keep = CutSet.from_cuts(keep)
        if self.extractor is not None:
            feats, lens = self.extractor(keep)
        else:
            feats, lens = collate_features(keep)
        feats = pad_like_silence(feats, lens)
        if warps:
            feats = warp_mel_axis(feats, torch.tensor(warps))
        if self.augment is not None:
            segments = torch.stack(
                [torch.arange(len(lens)), torch.zeros_like(lens), lens], dim=1
            ).int()
            feats = self.augment(feats, segments)
        feats = feats.transpose(1, 2).contiguous()
        return {
            "feats": feats,
            "feat_lens": lens.long(),
            "instructions": instructions,
            "targets": targets,
            "transcripts": transcripts,
            "ids": ids,
            "tasks": tasks,
            "genders": genders,  # speaker gender where known (male/female), else None
        }


def pad_like_silence(feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Fill padding with each utterance's minimum, which is what Whisper's zero-padded audio gives."""
    t = torch.arange(feats.shape[1])[None, :]
    pad = t >= lens[:, None]
    floor = feats.masked_fill(pad[..., None], float("inf")).amin(dim=(1, 2))
    return torch.where(pad[..., None], floor[:, None, None], feats)


def soundwave_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``SoundwaveModel.forward`` (Stages II and III)."""
    keys = ("feats", "feat_lens", "instructions", "targets", "transcripts")
    return {k: batch[k] for k in keys}


def ctc_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """Stage I: audio and transcripts only, and no LLM forward."""
    return {
        "feats": batch["feats"],
        "feat_lens": batch["feat_lens"],
        "transcripts": batch["transcripts"],
        "ctc_only": True,
    }


def speech_counts(batch: dict[str, Any]) -> dict[str, float]:
    """What a speech batch holds, for the trainer's throughput log (this process only)."""
    return {
        "utts": float(len(batch["feat_lens"])),
        "audio_s": float(batch["feat_lens"].sum()) / FRAME_RATE,
    }


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
    first speakers only (in mini_synth the first 48 dev utterances are its two flite
    speakers, and validation WER ran 30 points above the dev set's).
    """
    cuts = cuts.to_eager()
    total = len(cuts)
    if n >= total:
        return cuts
    return CutSet.from_cuts(cuts[i * total // n] for i in range(n))


def eval_batches(
    cuts: CutSet, task: str, cfg: DataConfig, max_utts: int | None = None
) -> Iterator[dict[str, Any]]:
    """Fixed-order batches of ``task`` for validation/decoding, with the fixed evaluation
    instruction; utterances without a target for ``task`` are left out.  ``max_utts``
    takes that many utterances evenly spread over ``cuts`` (see :func:`spread_subset`)."""
    if max_utts:
        cuts = spread_subset(cuts, max_utts)
    cuts = for_task(cuts, task)  # tags only the cuts that are decoded
    sampler = DynamicCutSampler(
        cuts, max_duration=cfg.max_duration, max_cuts=cfg.max_cuts, shuffle=False
    )
    dataset = SpeechTaskDataset(cfg.n_mels, cfg.on_the_fly, training=False)
    for batch_cuts in sampler:
        yield dataset[batch_cuts]

"""A lhotse CutSet mini-batch -> the keyword arguments of the model's ``forward``.

A batch holds ``feats`` (B, n_mels, T) Whisper log-mel, ``feat_lens`` (B,),
``feat_tails`` (B, n_mels, 3: the reference frames just past each utterance, which
``pad30`` encoding appends; absent for features stored without them), and per utterance the task ``instructions``, ``targets`` and ``transcripts`` (the CTC targets).
With ``encoder_cache`` it holds ``encoded`` (:class:`~soundwave.data.encoder_cache.EncoderFrames`,
the stored encoder outputs) instead of ``feats``; ``feat_lens`` is still there (the
utterances' log-mel frame counts, for throughput and durations only).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import torch
from lhotse import CutSet
from lhotse.dataset import SpecAugment

from soundwave.data.augment import seeded_rngs, warp_mel_axis
from soundwave.data.encoder_cache import collate_frames
from soundwave.errors import UserError
from soundwave.features.fbank import FRAME_RATE, WhisperLogMel, stored_features, whisper_fbank
from soundwave.tasks import cut_fields, get_task

GENDER = get_task("gender")
TASK_KEY = "sw_task"  # set on each training cut: the task it serves
POSITION_KEY = "sw_position"  # and its position in the mixed stream


def tag_cut(cut, task: str, position: int):
    """Mark ``cut`` as serving ``task`` at ``position`` of the stream (what the dataset reads)."""
    cut.custom = {**(cut.custom or {}), TASK_KEY: task, POSITION_KEY: position}
    return cut


def stable_seed(key: str) -> int:
    """A seed derived from ``key`` alone: the same in every process and after a resume."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little")


def _rng_for(seed: int, position: int, cut_id: str) -> random.Random:
    return random.Random(stable_seed(f"{seed}/{position}/{cut_id}"))


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
        instruction: str | None = None,
        need_target: bool = True,
        encoder_cache: bool = False,
        encoder_mask: bool = False,
    ):
        # evaluation only: one instruction for every utterance instead of the task's, and
        # (need_target=False) utterances without a reference too, with target ""
        self.instruction = instruction
        self.need_target = need_target
        self.freq_warp = freq_warp if training else 0.0
        self.extractor = whisper_fbank(n_mels) if on_the_fly else None
        self.training = training
        self.seed = seed
        # read stored encoder outputs (and mask them, training only) instead of log-mel
        self.encoder_cache = encoder_cache
        self.encoder_mask = encoder_mask and training
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
        warps, rngs = [], []
        for cut in cuts:
            fields = cut_fields(cut)
            task = get_task(cut.custom[TASK_KEY])
            target = task.target(fields)
            if target is None and self.need_target:
                continue
            rng = _rng_for(self.seed, cut.custom[POSITION_KEY], cut.id) if self.training else None
            keep.append(cut)
            rngs.append(rng)
            ids.append(cut.id)
            tasks.append(task.name)
            if self.instruction is not None:
                instructions.append(self.instruction)
            else:
                instructions.append(task.instruction(fields, rng))
            if self.freq_warp:  # drawn after the instruction, which stays as without warping
                warps.append(1.0 + rng.uniform(-self.freq_warp, self.freq_warp))
            targets.append(target or "")
            transcripts.append(fields.get("text") or "")
            genders.append(GENDER.target(fields))
        if not keep:
            raise UserError(
                f"no utterance in a batch has a target for its tasks (first: {cuts[0].id})"
            )
        keep = CutSet.from_cuts(keep)
        audio = self._encoded(keep, rngs) if self.encoder_cache else self._features(keep, warps)
        return {
            **audio,
            "instructions": instructions,
            "targets": targets,
            "transcripts": transcripts,
            "ids": ids,
            "tasks": tasks,
            "genders": genders,  # speaker gender where known (male/female), else None
        }

    def _encoded(self, cuts: CutSet, rngs: list) -> dict[str, Any]:
        # the mask draws come after the instruction's, which stays as without masking
        encoded = collate_frames(cuts, rngs if self.encoder_mask else None)
        lens = [c.num_frames if c.has_features else round(c.duration * FRAME_RATE) for c in cuts]
        return {"encoded": encoded, "feat_lens": torch.tensor(lens, dtype=torch.long)}

    def _features(self, cuts: CutSet, warps: list[float]) -> dict[str, Any]:
        feats, lens, tails = batch_features(cuts, self.extractor)
        if warps:
            feats = warp_mel_axis(feats, torch.tensor(warps))
            tails = None if tails is None else warp_mel_axis(tails, torch.tensor(warps))
        if self.augment is not None:
            segments = torch.stack(
                [torch.arange(len(lens)), torch.zeros_like(lens), lens], dim=1
            ).int()
            # the masks are a function of the seed and the batch's stream positions alone
            positions = "/".join(str(c.custom[POSITION_KEY]) for c in cuts)
            with seeded_rngs(stable_seed(f"{self.seed}/specaugment/{positions}")):
                feats = self.augment(feats, segments)
        out = {"feats": feats.transpose(1, 2).contiguous(), "feat_lens": lens.long()}
        if tails is not None:
            out["feat_tails"] = tails.transpose(1, 2).contiguous()
        return out


def batch_features(
    cuts: CutSet, extractor: WhisperLogMel | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(B, T, n_mels) log-mel of ``cuts`` (stored, or from ``extractor``), padded as
    Whisper's zero-padded audio is, (B,) frame counts, and the (B, 3, n_mels) reference
    frames past each end (None for features stored without them): what the encoder is given."""
    feats, lens, tails = extractor(cuts) if extractor is not None else stored_features(cuts)
    return pad_like_silence(feats, lens), lens, tails


def pad_like_silence(feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Fill padding with each utterance's minimum, which is what Whisper's zero-padded audio gives."""
    t = torch.arange(feats.shape[1])[None, :]
    pad = t >= lens[:, None]
    floor = feats.masked_fill(pad[..., None], float("inf")).amin(dim=(1, 2))
    return torch.where(pad[..., None], floor[:, None, None], feats)


def move_to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch's tensors on ``device`` (everything else as it is)."""
    return {
        k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
    }


def batch_seconds(batch: dict[str, Any]) -> list[float]:
    """Each utterance's duration in seconds, from its 100 Hz log-mel frame count."""
    return (batch["feat_lens"].double() / 100.0).tolist()


def audio_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The model's audio arguments: the stored encoder outputs (which the model then uses;
    ``feat_lens`` still goes along, for the throughput counts), or the log-mel."""
    if "encoded" in batch:
        return {"encoded": batch["encoded"], "feat_lens": batch["feat_lens"]}
    return {k: batch[k] for k in ("feats", "feat_lens", "feat_tails") if k in batch}


def soundwave_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``SoundwaveModel.forward`` (Stages II and III)."""
    keys = ("instructions", "targets", "transcripts")
    return {**audio_inputs(batch), **{k: batch[k] for k in keys}}


def ctc_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """Stage I: audio and transcripts only, and no LLM forward."""
    return {**audio_inputs(batch), "transcripts": batch["transcripts"], "ctc_only": True}


def speech_counts(batch: dict[str, Any]) -> dict[str, float]:
    """What a speech batch holds, for the trainer's throughput log (this process only)."""
    return {
        "utts": float(len(batch["feat_lens"])),
        "audio_s": float(batch["feat_lens"].sum()) / FRAME_RATE,
    }

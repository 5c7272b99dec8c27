"""The hearing check: does the LLM use the audio at all?

On a few utterances of a task, the model's LM loss on the references and its greedy
answers are compared under three inputs, the prompts and targets unchanged:

- **real**: each utterance's own audio;
- **silence**: the log-mel of zero samples (Whisper's floor, :data:`SILENT_LOG_MEL`) of
  the same length, through the model's own encoder; also with an encoder cache, so that
  the frames are what the cache would hold for silent audio;
- **swapped**: another utterance's audio, rolled by one inside the batch (log-mel or
  stored encoder frames alike).

The **loss gap** is ``min(loss_silence, loss_swapped) - loss_real`` in nats per target
token: how much worse the model predicts the reference when the audio no longer belongs
to it.  The **unchanged share** is the share of (utterance, replacement) pairs whose
greedy answer is the same as with the real audio.  A model is **deaf** (it answers from
the prompt alone) when the gap is below ``min_loss_gap`` *or* the unchanged share is
above ``max_unchanged``: either one says that what it hears does not matter.

Validation runs it with ``train.hearing_check`` (:mod:`soundwave.train.hearing`);
``python -m soundwave.bin.hearing_check`` runs it on a stage dir (:func:`check_dir`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from lhotse import CutSet

from soundwave.config import load_config
from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import audio_inputs, move_to
from soundwave.data.encoder_cache import EncoderFrames
from soundwave.data.lhotse_io import load_cuts
from soundwave.decode.decode import DecodeConfig
from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.models.stage_dir import load_stage

# Whisper's log-mel of zero samples: log10 of its 1e-10 floor, normalised ((-10 + 4) / 4)
SILENT_LOG_MEL = -1.5
CONDITIONS = ("real", "silence", "swapped")
EXAMPLES = 5  # answers kept in the JSON report, for a look by eye


@dataclass
class HearingLimits:
    """When a model counts as deaf (see the module docstring)."""

    # nats per target token: a model that uses the audio predicts its own utterance's
    # reference clearly better than with silence or someone else's audio
    min_loss_gap: float = 0.1
    # share of greedy answers that stay the same when the audio is replaced
    max_unchanged: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_unchanged <= 1.0:
            raise ValueError(f"max_unchanged must be in [0, 1], not {self.max_unchanged}")


@dataclass
class HearingReport:
    """The hearing check of one task: losses, unchanged shares and the verdict."""

    task: str
    utts: int
    loss: dict[str, float]  # per condition, nats per target token
    unchanged: dict[str, float]  # silence, swapped: share of answers as with the real audio
    limits: HearingLimits = field(default_factory=HearingLimits)
    examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def gap(self) -> float:
        return min(self.loss["silence"], self.loss["swapped"]) - self.loss["real"]

    @property
    def unchanged_share(self) -> float:
        return (self.unchanged["silence"] + self.unchanged["swapped"]) / 2

    @property
    def reasons(self) -> list[str]:
        """Why the model counts as deaf (empty: it hears)."""
        out = []
        if not self.gap >= self.limits.min_loss_gap:  # a NaN gap is no evidence of hearing
            out.append(f"loss gap {self.gap:.3f} < {self.limits.min_loss_gap:g} nats/token")
        if self.unchanged_share > self.limits.max_unchanged:
            out.append(
                f"{100 * self.unchanged_share:.0f}% of answers unchanged "
                f"> {100 * self.limits.max_unchanged:.0f}%"
            )
        return out

    @property
    def deaf(self) -> bool:
        return bool(self.reasons)

    def summary(self) -> str:
        """One line: the losses, the gap, the unchanged share and the verdict."""
        loss = ", ".join(f"{c} {self.loss[c]:.3f}" for c in CONDITIONS)
        verdict = f"DEAF ({'; '.join(self.reasons)})" if self.deaf else "hears the audio"
        return (
            f"hearing check {self.task} ({self.utts} utts): loss {loss}; gap {self.gap:.3f}; "
            f"unchanged {100 * self.unchanged_share:.0f}% -> {verdict}"
        )

    def metrics(self) -> dict[str, float]:
        """Flat scalars for a validation record, prefixed ``hearing_<task>_``."""
        p = f"hearing_{self.task}_"
        values = {f"loss_{c}": v for c, v in self.loss.items()}
        values |= {"gap": self.gap, "unchanged": self.unchanged_share, "deaf": float(self.deaf)}
        return {p + k: float(v) for k, v in values.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "utts": self.utts,
            "loss": self.loss,
            "gap": {
                "silence": self.loss["silence"] - self.loss["real"],
                "swapped": self.loss["swapped"] - self.loss["real"],
                "min": self.gap,
            },
            "unchanged": {**self.unchanged, "all": self.unchanged_share},
            "verdict": "deaf" if self.deaf else "hears",
            "reasons": self.reasons,
            "limits": asdict(self.limits),
            "examples": self.examples,
        }


def silent_audio(audio: dict[str, Any], n_mels: int) -> dict[str, Any]:
    """Silent log-mel of each utterance's length (the model runs its encoder on it)."""
    lens = audio["feat_lens"]
    feats = torch.full((len(lens), n_mels, int(lens.max())), SILENT_LOG_MEL, device=lens.device)
    return {"feats": feats, "feat_lens": lens}


def swapped_audio(audio: dict[str, Any]) -> dict[str, Any]:
    """Each utterance gets the audio of the one before it in the batch (the first, the last's)."""
    lens = audio["feat_lens"].roll(1, 0)
    if "encoded" in audio:
        e = audio["encoded"]
        frames = EncoderFrames(
            e.frames.roll(1, 0), e.lens.roll(1, 0), e.ids[-1:] + e.ids[:-1], e.cut_ids
        )
        return {"encoded": frames, "feat_lens": lens}
    return {"feats": audio["feats"].roll(1, 0), "feat_lens": lens}


def hearing_check(
    model: torch.nn.Module,
    cuts: CutSet,
    task: str,
    utts: int,
    data: DataConfig | None = None,
    max_new_tokens: int = 64,
    limits: HearingLimits | None = None,
    device: torch.device | None = None,
) -> HearingReport:
    """The hearing check of ``task`` on ``utts`` utterances spread over ``cuts``.

    Batches are formed as for decoding (``data``); the audio is swapped inside a batch, so
    a batch of a single utterance (the last one, at most) is left out.
    """
    device = device or torch.device("cpu")
    data = data or DataConfig(sampler="simple", max_duration=60.0)
    model.eval()
    weight_by_tokens = getattr(model.cfg, "lm_loss_average", "token") == "token"
    loss_sums = dict.fromkeys(CONDITIONS, 0.0)
    same = {"silence": 0, "swapped": 0}
    total_weight, n, examples = 0.0, 0, []
    for batch in eval_batches(cuts, task, data, utts):
        if len(batch["ids"]) < 2:
            continue
        real = move_to(audio_inputs(batch), device)
        inputs = {
            "real": real,
            "silence": silent_audio(real, model.encoder.n_mels),
            "swapped": swapped_audio(real),
        }
        answers: dict[str, list[str]] = {}
        weight = 0.0
        with torch.no_grad():
            for cond, audio in inputs.items():
                enc = model.encode_audio(**audio)  # one encoding for the loss and the answers
                out = model(
                    instructions=batch["instructions"], targets=batch["targets"], encoding=enc
                )
                weight = float(out["num_tokens"]) if weight_by_tokens else len(batch["ids"])
                loss_sums[cond] += float(out["lm_loss"]) * weight
                hyps = model.generate(
                    None, None, batch["instructions"], max_new_tokens, encoding=enc
                )
                answers[cond] = [" ".join(h.split()) for h in hyps]
        total_weight += weight
        n += len(batch["ids"])
        for cond in same:
            same[cond] += sum(a == b for a, b in zip(answers["real"], answers[cond], strict=True))
        for i, utt in enumerate(batch["ids"][: max(0, EXAMPLES - len(examples))]):
            examples.append({"id": utt, **{c: answers[c][i] for c in CONDITIONS}})
    if n == 0:
        raise UserError(
            f"the hearing check of {task} found no batch of two or more utterances with a "
            "target (it swaps audio inside a batch): give it more utterances or a larger "
            "data.max_duration"
        )
    return HearingReport(
        task=task,
        utts=n,
        loss={c: s / total_weight if total_weight else math.nan for c, s in loss_sums.items()},
        unchanged={c: k / n for c, k in same.items()},
        limits=limits or HearingLimits(),
        examples=examples,
    )


def check_dir(
    model_dir: str,
    cuts_path: str,
    task: str,
    utts: int,
    out: str | None = None,
    config: str | None = None,
    overrides: list[str] | None = None,
    limits: HearingLimits | None = None,
) -> HearingReport:
    """The hearing check of a stage dir's model on ``cuts_path``: print the summary line and
    write the report to ``out`` (default ``<model_dir>/hearing_<task>.json``).  ``config``
    and ``overrides`` are a decoding config's (its ``data`` and ``generation``)."""
    cfg = load_config(DecodeConfig, config, overrides or [])
    if not Path(model_dir).is_dir():
        raise UserError("model directory not found", model_dir)
    if utts < 2:
        raise UserError(f"the hearing check needs 2 utterances or more, not {utts}")
    cuts = load_cuts(cuts_path, lazy=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_stage(model_dir).to(device)
    max_new = cfg.generation.kwargs(task)["max_new_tokens"]
    report = hearing_check(model, cuts, task, utts, cfg.data, max_new, limits, device)
    path = Path(out) if out else Path(model_dir) / f"hearing_{task}.json"
    with atomic_write(path) as f:
        json.dump(
            {"model_dir": str(model_dir), "cuts": str(cuts_path), **report.to_json()}, f, indent=1
        )
    print(f"{report.summary()} -> {path}")
    return report

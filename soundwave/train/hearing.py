"""Is the LLM hearing the audio?  The training side of :mod:`soundwave.decode.hearing`.

- With ``train.hearing_check: N`` every validation of Stage II or III also runs the
  hearing check on N utterances of each valid source and task: its numbers go into the
  validation record (``history.json``: ``valid_hearing_<task>_{loss_real, loss_silence,
  loss_swapped, gap, unchanged, deaf}``) and a WARNING line into the training log when the
  model is deaf; ``train.stop_if_deaf: true`` then stops the run (one line, exit 1).
- ``train.max_init_ctc_wer``: Stage II refuses to start from a Stage I adapter whose
  greedy CTC WER on the valid set is above the bound; the bridge would only shrink noise.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from soundwave.data.lhotse_io import load_cuts
from soundwave.decode.decode import DecodeConfig, decode_cuts
from soundwave.decode.hearing import hearing_check
from soundwave.errors import UserError
from soundwave.score.metrics import task_score

log = logging.getLogger("soundwave.train")  # the trainer's: the lines land in train.log

DEAF_SUFFIX = "_deaf"


def hearing_metrics(model: torch.nn.Module, cfg: Any, device: torch.device) -> dict[str, float]:
    """The hearing check on ``cfg.train.hearing_check`` utterances of every valid source and
    task of a :class:`~soundwave.train.stages.TrainConfig`, as validation metrics; a WARNING
    for every deaf one."""
    metrics: dict[str, float] = {}
    for source in cfg.data.valid:
        cuts = load_cuts(source.cuts, lazy=True)
        for task in source.tasks:
            max_new = cfg.generation.kwargs(task)["max_new_tokens"]
            report = hearing_check(
                model,
                cuts,
                task,
                cfg.train.hearing_check,
                cfg.data,
                max_new,
                cfg.train.hearing_limits,
                device,
            )
            metrics |= report.metrics()
            if report.deaf:
                log.warning("the LLM is not using the audio: %s", report.summary())
            else:
                log.info("%s", report.summary())
    return metrics


def deaf_reason(metrics: dict[str, float]) -> str | None:
    """Why to stop (``train.stop_if_deaf``): the tasks a validation found deaf, or None."""
    deaf = [
        k.removeprefix("hearing_").removesuffix(DEAF_SUFFIX)
        for k, v in metrics.items()
        if k.startswith("hearing_") and k.endswith(DEAF_SUFFIX) and v > 0
    ]
    if not deaf:
        return None
    numbers = ", ".join(
        f"{t}: loss gap {metrics[f'hearing_{t}_gap']:.3f}, "
        f"{100 * metrics[f'hearing_{t}_unchanged']:.0f}% of answers unchanged"
        for t in deaf
    )
    return (
        f"the LLM is not using the audio ({numbers}); train.stop_if_deaf stopped the run "
        "(see train.log; train.stop_if_deaf=false trains on)"
    )


def check_init_ctc_wer(model: torch.nn.Module, cfg: Any, device: torch.device) -> float | None:
    """Stage II's guard: the greedy CTC WER of the initial adapter on the valid set (up to
    ``data.valid_max_utts`` utterances with a transcript per source); a :class:`UserError`
    above ``cfg.train.max_init_ctc_wer``.  None where it does not apply (no bound, no
    Stage I to start from, or a model without a CTC head, like the linear baseline)."""
    bound = cfg.train.max_init_ctc_wer
    if bound is None or not cfg.init_from or not model.cfg.has_ctc:
        return None
    if not cfg.data.valid:
        raise UserError("train.max_init_ctc_wer measures the CTC WER on data.valid: set it")
    decode_cfg = DecodeConfig(mode="ctc", with_stats=False, data=cfg.data)
    refs, hyps = [], []
    for source in cfg.data.valid:
        cuts = load_cuts(source.cuts, lazy=True)
        for r in decode_cuts(model, cuts, "asr", decode_cfg, cfg.data.valid_max_utts, device):
            refs.append(r.ref)
            hyps.append(r.hyp)
    if not refs:
        raise UserError("train.max_init_ctc_wer: no valid utterance has a transcript")
    _, wer = task_score("ctc_asr", refs, hyps)
    if wer > bound:
        raise UserError(
            f"Stage I adapter's CTC WER on the valid set is {wer:.2f}% "
            f"({len(refs)} utts), above train.max_init_ctc_wer={bound:g}: train Stage I "
            "further (or raise the bound) before Stage II",
            cfg.init_from,
        )
    log.info("Stage I adapter's CTC WER on the valid set: %.2f%% (bound %g)", wer, bound)
    return wer

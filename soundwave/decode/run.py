"""Decode a manifest with a stage dir's model into per-task output dirs (the stage-6 job)."""

from __future__ import annotations

from pathlib import Path

import torch

from soundwave.config import load_config
from soundwave.data.shards import read_shard
from soundwave.decode.decode import DecodeConfig, DecodeStats, decode_cuts, first_token_seconds
from soundwave.decode.outputs import decode_identity, merge_shards, shard_dir, write_results
from soundwave.errors import UserError
from soundwave.models.stage_dir import load_stage


def task_dir(pattern: str, task: str, multiple: bool) -> Path:
    """``pattern`` with ``{task}`` replaced (required when decoding several tasks)."""
    if "{task}" not in pattern and multiple:
        raise UserError("--out-dir must contain {task} when decoding several tasks")
    return Path(pattern.replace("{task}", task))


def merge_decoded(out_pattern: str, tasks: list[str], num: int) -> None:
    """Merge the ``num`` shards of every task's output dir."""
    for task in tasks:
        merge_shards(task_dir(out_pattern, task, len(tasks) > 1), num)


def decode_to_dirs(
    model_dir: str,
    cuts_path: str,
    tasks: list[str],
    out_pattern: str,
    config: str | None = None,
    overrides: list[str] | None = None,
    shard: str = "1/1",
) -> None:
    """Load the model once and decode every task in turn into ``out_pattern`` (with
    ``{task}``); shard ``J/N`` decodes every N-th cut into ``<dir>/shards/J``."""
    cfg = load_config(DecodeConfig, config, overrides or [])
    cuts, job, num = read_shard(cuts_path, shard)
    if not Path(model_dir).is_dir():
        raise UserError("model directory not found", model_dir)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_stage(model_dir).to(device)
    identity = decode_identity(model_dir, cuts_path, f"{job}/{num}")
    for task in tasks:
        out_dir = shard_dir(task_dir(out_pattern, task, len(tasks) > 1), job, num)
        stats = DecodeStats()
        results = list(decode_cuts(model, cuts, task, cfg, device=device, stats=stats))
        if cfg.measure_ttft:
            stats.ttft = first_token_seconds(model, cuts, task, cfg, device=device)
        write_results(out_dir, results, stats, cfg.guard, identity)
        flagged = sum(r.guard.flagged for r in results if r.guard is not None)
        print(
            f"decode: {task}: {stats.utts} utts, {stats.audio_seconds:.1f} s audio, "
            f"RTF {stats.rtf:.3f}"
            + (f", guard flagged {flagged}" if cfg.guard != "off" else "")
            + (f", median TTFT {1000 * stats.ttft_median:.1f} ms" if stats.ttft else "")
            + f" -> {out_dir}"
        )

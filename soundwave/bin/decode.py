"""Decode a manifest with a trained model (any stage) into Kaldi-style hypothesis files.

Usage:
    python -m soundwave.bin.decode --model-dir exp/mini/sft --cuts data/fbank/cuts_test.jsonl.gz \
        --tasks asr st_en_de --out-dir 'exp/mini/sft/decode_test_{task}' [--config conf/decode.yaml] [key=value ...]
    # one job of N (the job runner substitutes JOB), then merge:
    python -m soundwave.bin.decode ... --shard JOB/N
    python -m soundwave.bin.decode --merge N --tasks asr st_en_de --out-dir 'exp/mini/sft/decode_test_{task}'

The model is loaded once and every task is decoded in turn; ``{task}`` in --out-dir is
replaced by the task name.  Each output dir gets ``hyp.txt`` and ``ref.txt``
(``<utt-id> <text>``), ``ctc_hyp.txt`` (the adapter's CTC transcript, with ``with_ctc``),
``shrink_stats.txt`` (``<utt-id> <seconds> <adapter-frames> <llm-positions>``) and
``decode.json`` (counts, speed, positions per second).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from lhotse import CutSet

from soundwave.bin.compute_fbank import parse_shard
from soundwave.config import load_config
from soundwave.decode.decode import DecodeResult, DecodeStats, GenerationConfig, decode_cuts
from soundwave.errors import UserError, cli_main
from soundwave.fileio import atomic_write
from soundwave.train.data import DataConfig, load_cuts

OUTPUTS = ("hyp.txt", "ref.txt", "ctc_hyp.txt", "shrink_stats.txt")


@dataclass
class DecodeConfig:
    mode: str = "generate"  # generate (the LLM) | ctc (the adapter's greedy CTC transcript)
    with_ctc: bool = False
    with_stats: bool = True
    data: DataConfig = field(
        default_factory=lambda: DataConfig(sampler="simple", max_duration=60.0)
    )
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        if self.mode not in ("generate", "ctc"):
            raise ValueError(f"mode must be generate or ctc, not '{self.mode}'")


def summarize(stats: DecodeStats, frames: list[tuple[float, int, int]], **extra) -> dict:
    """decode.json: counts, speed, and adapter frames / LLM positions per second of audio."""
    summary = {
        "utts": stats.utts,
        "audio_seconds": round(stats.audio_seconds, 3),
        "elapsed_seconds": round(stats.elapsed_seconds, 3),
        "rtf": round(stats.rtf, 4),
        **extra,
    }
    secs = sum(f[0] for f in frames)
    if secs > 0:
        summary["adapter_frames_per_second"] = round(sum(f[1] for f in frames) / secs, 3)
        summary["llm_positions_per_second"] = round(sum(f[2] for f in frames) / secs, 3)
    return summary


def write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as f:
        f.write("".join(line.rstrip() + "\n" for line in lines))


def write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, indent=1)


def write_results(out_dir: Path, results: list[DecodeResult], stats: DecodeStats) -> None:
    results = sorted(results, key=lambda r: r.id)
    write_lines(out_dir / "hyp.txt", [f"{r.id} {r.hyp}" for r in results])
    write_lines(out_dir / "ref.txt", [f"{r.id} {r.ref}" for r in results])
    if any(r.ctc_hyp is not None for r in results):
        write_lines(out_dir / "ctc_hyp.txt", [f"{r.id} {r.ctc_hyp or ''}" for r in results])
    measured = [r for r in results if r.frames_out is not None]
    if measured:
        write_lines(
            out_dir / "shrink_stats.txt",
            [f"{r.id} {r.duration:.2f} {r.frames_in} {r.frames_out}" for r in measured],
        )
    frames = [(r.duration, r.frames_in, r.frames_out) for r in measured]
    write_json(
        out_dir / "decode.json", summarize(stats, frames, tasks=sorted({r.task for r in results}))
    )


def read_shrink_stats(path: Path) -> dict[str, tuple[float, int, int]]:
    """``shrink_stats.txt``: ``{utt: (seconds, adapter frames, LLM positions)}``."""
    stats = {}
    for line in path.read_text().splitlines():
        utt, secs, n_in, n_out = line.split()
        stats[utt] = (float(secs), int(n_in), int(n_out))
    return stats


def merge_shards(out_dir: Path, num: int) -> None:
    """Concatenate ``<out_dir>/shards/{1..num}`` outputs into ``<out_dir>``."""
    stats = DecodeStats()
    shards = [out_dir / "shards" / str(j) for j in range(1, num + 1)]
    for shard in shards:
        if not (shard / "decode.json").is_file():
            raise UserError("decoding shard is missing or incomplete", shard)
        info = json.loads((shard / "decode.json").read_text())
        stats.utts += info["utts"]
        stats.audio_seconds += info["audio_seconds"]
        stats.elapsed_seconds += info["elapsed_seconds"]
    for name in OUTPUTS:
        parts = [s / name for s in shards if (s / name).is_file()]
        if parts:
            write_lines(
                out_dir / name, sorted(line for p in parts for line in p.read_text().splitlines())
            )
    stats_file = out_dir / "shrink_stats.txt"
    frames = list(read_shrink_stats(stats_file).values()) if stats_file.is_file() else []
    write_json(out_dir / "decode.json", summarize(stats, frames, shards=num))


def task_dir(pattern: str, task: str, multiple: bool) -> Path:
    if "{task}" not in pattern and multiple:
        raise UserError("--out-dir must contain {task} when decoding several tasks")
    return Path(pattern.replace("{task}", task))


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.decode",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", help="a stage output directory (align, shrink or sft)")
    parser.add_argument(
        "--cuts", help="CutSet manifest with features (or audio with data.on_the_fly=true)"
    )
    parser.add_argument(
        "--tasks", nargs="+", default=["asr"], help="tasks to decode (asr st_en_de gender qa ...)"
    )
    parser.add_argument(
        "--out-dir", required=True, help="output directory; {task} is replaced by the task"
    )
    parser.add_argument("--config", help="decoding YAML config")
    parser.add_argument(
        "--shard", default="1/1", help="J/N: decode the J-th of N interleaved shards"
    )
    parser.add_argument("--merge", type=int, metavar="N", help="merge N decoded shards and exit")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args(argv)
    multiple = len(args.tasks) > 1
    if args.merge:
        for task in args.tasks:
            merge_shards(task_dir(args.out_dir, task, multiple), args.merge)
        return
    if not args.model_dir or not args.cuts:
        raise UserError("--model-dir and --cuts are required (unless --merge)")
    cfg = load_config(DecodeConfig, args.config, args.overrides)
    job, num = parse_shard(args.shard)
    cuts = load_cuts(args.cuts)
    if num > 1:
        cuts = CutSet.from_cuts(c for i, c in enumerate(cuts) if i % num == job - 1)
    else:
        cuts = cuts.to_eager()
    if not Path(args.model_dir).is_dir():
        raise UserError("model directory not found", args.model_dir)
    from soundwave.models import SoundwaveModel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = SoundwaveModel.load_stage(args.model_dir).to(device)
    for task in args.tasks:
        out_dir = task_dir(args.out_dir, task, multiple)
        if num > 1:
            out_dir = out_dir / "shards" / str(job)
        stats = DecodeStats()
        results = list(
            decode_cuts(
                model,
                cuts,
                task,
                cfg.data,
                cfg.generation,
                mode=cfg.mode,
                with_ctc=cfg.with_ctc,
                with_stats=cfg.with_stats and cfg.mode != "ctc",
                device=device,
                stats=stats,
            )
        )
        write_results(out_dir, results, stats)
        print(
            f"decode: {task}: {stats.utts} utts, {stats.audio_seconds:.1f} s audio, RTF {stats.rtf:.3f} -> {out_dir}"
        )


if __name__ == "__main__":
    main()

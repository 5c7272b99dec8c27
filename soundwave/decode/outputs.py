"""What decoding writes: Kaldi-style ``<utt-id> <text>`` files and a summary, per task dir.

Each output dir gets ``hyp.txt`` and ``ref.txt``, ``ctc_hyp.txt`` (the adapter's CTC
transcript, when decoded), ``shrink_stats.txt`` (``<utt-id> <seconds> <adapter-frames>
<llm-positions>``) and ``decode.json`` (counts, speed, positions per second).  Shards of a
parallel decode are written under ``<dir>/shards/<J>`` and merged by :func:`merge_shards`.
"""

from __future__ import annotations

import json
from pathlib import Path

from soundwave.decode.decode import DecodeResult, DecodeStats
from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.score.textio import read_shrink_stats

OUTPUTS = ("hyp.txt", "ref.txt", "ctc_hyp.txt", "shrink_stats.txt")


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

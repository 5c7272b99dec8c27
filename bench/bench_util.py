"""What every bench shares: the synthetic corpus and tiny models, timing, the machine
record, and writing ``<name>.json`` plus ``<name>.md`` (a markdown table) atomically.

The benches are scripts (``python bench/<name>.py``), so Python puts ``bench/`` on the
path and they import this module by its plain name.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from soundwave.bin import combine_cuts, compute_fbank, make_manifests
from soundwave.fileio import atomic_write
from soundwave.offline.synth.corpus import CorpusConfig, build
from soundwave.offline.tiny import build_tiny_llm, build_tiny_whisper

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """The machine a number was measured on, and whether others were using it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load1, load5, _ = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    info = {
        "cpu": cpu,
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_avg_1m": round(load1, 2),
        "load_avg_5m": round(load5, 2),
        # a load above the cores this process may use means other work shared them
        "other_load": load5 > 1.0,
    }
    return info


def shared_note(machine: dict[str, Any]) -> str:
    """One line on the machine for a table's caption."""
    where = machine["gpu"] or f"{machine['cpu']}, {machine['cores']} cores"
    load = (
        f"shared with other work (load {machine['load_avg_5m']} on {machine['cores']} cores)"
        if machine["other_load"]
        else "otherwise idle"
    )
    return f"{where}, torch {machine['torch']} ({machine['torch_threads']} threads), {load}"


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return "-" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def write_results(out_dir: Path, name: str, result: dict[str, Any], table: list[str]) -> None:
    """``<name>.json`` (the result, the machine, the table) and ``<name>.md``, atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"bench": name, "machine": machine_info(), **result, "table": table}
    with atomic_write(out_dir / f"{name}.json") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    with atomic_write(out_dir / f"{name}.md") as f:
        f.write("\n".join(table) + "\n")


def best_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """The fastest of ``repeats`` timed calls after ``warmup`` untimed ones (a shared machine
    only ever slows a run down, so the minimum is the least disturbed), and all of them."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), times


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def corpus(root: Path, train: int, test: int = 2, sets: tuple[str, ...] = ("train",)) -> Path:
    """The synthetic corpus (``train`` / ``test`` utterances) and the log-mel manifests
    ``cuts_<set>.jsonl.gz`` of ``sets``; reused when present."""
    if all((root / f"cuts_{s}.jsonl.gz").exists() for s in sets):
        return root
    cfg = CorpusConfig(
        num_train=train, num_dev=2, num_test=test, spk_train=8, spk_dev=1, spk_test=2,
        num_text_train=60, num_text_dev=10,
    )  # fmt: skip
    build(cfg, root / "data", root / "work", nj=2, log=lambda _: None)
    for s in sets:
        raw, part = root / f"raw_{s}.jsonl.gz", root / f"part_{s}.jsonl.gz"
        make_manifests.main(["--data-dir", str(root / "data" / s), "--out", str(raw)])
        compute_fbank.main(["--cuts", str(raw), "--storage", str(root / "fbank" / s),
                            "--out-cuts", str(part), "--no-progress"])  # fmt: skip
        combine_cuts.main([str(root / f"cuts_{s}.jsonl.gz"), str(part)])
    return root


def tiny_models(root: Path, whisper_std: float = 0.02, llm_std: float = 0.02) -> tuple[str, str]:
    """A tiny random Whisper and a tiny Llama whose tokenizer is trained on the corpus's
    training transcripts (reused when present)."""
    if not (root / "whisper").is_dir():
        build_tiny_whisper(root / "whisper", n_mels=80, d_model=48, layers=2, init_std=whisper_std)
    if not (root / "llm").is_dir():
        lines = (root / "data/train/text").read_text().splitlines()
        texts = [line.split(" ", 1)[1] for line in lines]
        build_tiny_llm(
            root / "llm", arch="llama", texts=texts, vocab_size=400, hidden=64, layers=2,
            init_std=llm_std,
        )  # fmt: skip
    return str(root / "whisper"), str(root / "llm")


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory that one call of ``fn`` allocates above what was held before it: the
    CUDA allocator's peak on a GPU; on the CPU the running sum of the profiler's
    allocation and free events (the CPU allocator keeps no peak of its own)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    held = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        held += event.self_cpu_memory_usage
        peak = max(peak, held)
    return peak

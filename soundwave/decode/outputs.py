"""What decoding writes: Kaldi-style ``<utt-id> <text>`` files and a summary, per task dir.

Each output dir gets ``hyp.txt`` and ``ref.txt``, ``ctc_hyp.txt`` (the adapter's CTC
transcript, when decoded), ``shrink_stats.txt`` (``<utt-id> <seconds> <adapter-frames>
<llm-positions>``), with the CTC guard ``guard.txt`` (see :mod:`soundwave.score.guard`)
and, with ``guard: fallback``, ``hyp_llm.txt`` (the LLM's own hypotheses), and
``decode.json``: counts, speed, positions per second of audio and per transcript token,
the guard's mode and count of flagged utterances, and the times to the first token at
batch 1 (``ttft_ms``, their median ``ttft_median_ms``).  Utterances decoded long-form
(:mod:`soundwave.decode.longform`) add ``pieces.txt``: ``<utt-id> <piece> <start-s>
<end-s> <text>``, a line per piece (numbered from 000, so that sorted lines stay in
order).  Shards of a parallel decode are written under ``<dir>/shards/<J>`` and merged by
:func:`merge_shards`; each shard's ``decode.json`` records what it decoded
(:func:`decode_identity`: the model dir, a hash of its weights, the manifest and
``J/N``), and a merge refuses shards that disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from soundwave.decode.decode import DecodeResult, DecodeStats
from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.score.guard import GUARD_FILE, LLM_HYP_FILE
from soundwave.score.textio import read_shrink_stats
from soundwave.stages import CONFIG_NAME, WEIGHTS_NAME, read_stage_info, recorded_config_hash

PIECES_FILE = "pieces.txt"
OUTPUTS = (
    "hyp.txt",
    "ref.txt",
    "ctc_hyp.txt",
    "shrink_stats.txt",
    GUARD_FILE,
    LLM_HYP_FILE,
    PIECES_FILE,
)
SHARDS = "shards"  # <out_dir>/shards/J: the output of job J of a sharded decoding
# what must agree between the shards of one decoding (decode_identity's keys)
SAME_IN_SHARDS = {"model_weights": "model", "cuts": "manifest"}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def decode_identity(model_dir: str | os.PathLike, cuts: str | os.PathLike, shard: str) -> dict:
    """What a decoding decoded, for ``decode.json``: the model dir, a hash of its trained
    weights (the training config hash cannot tell a longer run of the same config apart),
    that config hash where recorded, the manifest and the shard ``J/N``."""
    model_dir = Path(model_dir)
    # a stage dir's trained weights, or a bare HF model's (the Whisper reference)
    weights = next(
        (model_dir / n for n in (WEIGHTS_NAME, "model.safetensors") if (model_dir / n).is_file()),
        model_dir / WEIGHTS_NAME,
    )
    return {
        "model_dir": str(model_dir.resolve()),
        "model_weights": _file_sha256(weights) if weights.is_file() else None,
        "model_config_hash": recorded_config_hash(read_stage_info(model_dir))
        if (model_dir / CONFIG_NAME).is_file()
        else None,
        "cuts": str(Path(cuts).resolve()),
        "shard": shard,
    }


def summarize(
    stats: DecodeStats,
    frames: list[tuple[float, int, int]],
    tokens: tuple[int, int] = (0, 0),
    **extra,
) -> dict:
    """decode.json: counts, speed, adapter frames / LLM positions per second of audio, LLM
    positions per transcript token (``tokens``: the LLM positions of the utterances with a
    transcript and their transcripts' tokens) and the times to the first token."""
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
    positions, transcript_tokens = tokens
    if transcript_tokens:
        summary["token_positions"] = positions
        summary["transcript_tokens"] = transcript_tokens
        summary["llm_positions_per_token"] = round(positions / transcript_tokens, 4)
    if stats.ttft:
        summary["ttft_ms"] = [round(1000 * t, 2) for t in stats.ttft]
        summary["ttft_median_ms"] = round(1000 * stats.ttft_median, 2)
    return summary


def write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as f:
        f.write("".join(line.rstrip() + "\n" for line in lines))


def write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, indent=1)


def write_results(
    out_dir: Path,
    results: list[DecodeResult],
    stats: DecodeStats,
    guard: str = "off",
    identity: dict | None = None,
) -> None:
    """Every output file of one task's decoding (``guard``: the guard's mode; ``identity``:
    :func:`decode_identity`, recorded in ``decode.json``)."""
    results = sorted(results, key=lambda r: r.id)
    # decode.json is written last and marks the files complete: a rerun that dies while
    # writing must not leave an older one beside newer hypotheses
    (out_dir / "decode.json").unlink(missing_ok=True)
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
    pieces = [
        f"{r.id} {k:03d} {p.start:.2f} {p.end:.2f} {p.hyp}"
        for r in results
        for k, p in enumerate(r.pieces or [])
    ]
    if pieces:
        write_lines(out_dir / PIECES_FILE, pieces)
    else:  # what is beside hyp.txt comes from the same decoding
        (out_dir / PIECES_FILE).unlink(missing_ok=True)
    extra: dict = {"tasks": sorted({r.task for r in results}), **(identity or {})}
    guarded = [r for r in results if r.guard is not None]
    remove_stale(out_dir, guard)
    if guard != "off":
        write_lines(out_dir / GUARD_FILE, [r.guard.line(r.id) for r in guarded])
        extra.update(guard=guard, guard_flagged=sum(r.guard.flagged for r in guarded))
    if guard == "fallback":
        write_lines(out_dir / LLM_HYP_FILE, [f"{r.id} {r.llm_hyp}" for r in guarded])
    frames = [(r.duration, r.frames_in, r.frames_out) for r in measured]
    counted = [r for r in measured if r.transcript_tokens]
    tokens = (sum(r.frames_out for r in counted), sum(r.transcript_tokens for r in counted))
    write_json(out_dir / "decode.json", summarize(stats, frames, tokens, **extra))


def remove_stale(out_dir: Path, guard: str) -> None:
    """Remove the guard files a decoding in another guard mode left in ``out_dir``: what
    scoring finds beside ``hyp.txt`` must come from the same decoding."""
    stale = {"off": (GUARD_FILE, LLM_HYP_FILE), "flag": (LLM_HYP_FILE,)}.get(guard, ())
    for name in stale:
        (out_dir / name).unlink(missing_ok=True)


def _shard_info(shard: Path, job: int, num: int) -> dict:
    """A shard's ``decode.json``, checked to be shard ``job`` of a ``num``-shard decoding."""
    path = shard / "decode.json"
    if not path.is_file():
        raise UserError("decoding shard is missing or incomplete (no decode.json)", shard)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"damaged decode.json: {err}", path) from None
    recorded = info.get("shard") if isinstance(info, dict) else None
    if recorded is None:
        raise UserError(
            "records no shard identity (decoded by an older soundwave?): decode it again", path
        )
    if recorded != f"{job}/{num}":
        total = str(recorded).rpartition("/")[2]
        raise UserError(
            f"is shard {recorded}, not {job}/{num}: the decoding has {total} shards "
            f"(merge with --merge {total})",
            path,
        )
    return info


def shard_dir(out_dir: str | os.PathLike, job: int, num: int) -> Path:
    """Where job ``J`` of ``N`` of a decoding writes: ``<out_dir>/shards/J`` (merged by
    :func:`merge_shards`), or ``out_dir`` itself when it is the only job."""
    return Path(out_dir) / SHARDS / str(job) if num > 1 else Path(out_dir)


def merge_shards(out_dir: Path, num: int) -> None:
    """Concatenate ``<out_dir>/shards/{1..num}`` outputs into ``<out_dir>``, once every
    shard is known to be its part of one decoding: the same model and manifest, ``J/num``."""
    if num < 1:
        raise UserError(f"--merge {num}: the number of shards must be at least 1")
    if num == 1 and not (out_dir / SHARDS / "1").exists():
        _shard_info(out_dir, 1, 1)  # a 1/1 decoding writes out_dir itself: nothing to merge
        return
    stats = DecodeStats()
    shards = [out_dir / SHARDS / str(j) for j in range(1, num + 1)]
    infos = [_shard_info(shard, j, num) for j, shard in enumerate(shards, 1)]
    for key, what in SAME_IN_SHARDS.items():
        for shard, info in zip(shards[1:], infos[1:], strict=True):
            if info.get(key) != infos[0].get(key):
                first = infos[0].get("model_dir") if key == "model_weights" else infos[0].get(key)
                this = info.get("model_dir") if key == "model_weights" else info.get(key)
                raise UserError(
                    f"decoded with another {what} ({this}, {key} {info.get(key)}) than "
                    f"{shards[0]} ({first}, {key} {infos[0].get(key)}): decode every shard "
                    "with the same one",
                    shard / "decode.json",
                )
    positions = tokens = flagged = 0
    guards = set()
    for info in infos:
        stats.utts += info["utts"]
        stats.audio_seconds += info["audio_seconds"]
        stats.elapsed_seconds += info["elapsed_seconds"]
        stats.ttft += [t / 1000 for t in info.get("ttft_ms", [])]
        positions += info.get("token_positions", 0)
        tokens += info.get("transcript_tokens", 0)
        flagged += info.get("guard_flagged", 0)
        guards.add(info.get("guard", "off"))
    if len(guards) > 1:
        raise UserError(
            f"shards were decoded with different guard modes ({', '.join(guards)})", out_dir
        )
    guard = guards.pop()
    remove_stale(out_dir, guard)
    for name in OUTPUTS:
        parts = [s / name for s in shards if (s / name).is_file()]
        if parts:
            write_lines(
                out_dir / name, sorted(line for p in parts for line in p.read_text().splitlines())
            )
    stats_file = out_dir / "shrink_stats.txt"
    frames = list(read_shrink_stats(stats_file).values()) if stats_file.is_file() else []
    same = {k: infos[0].get(k) for k in ("model_dir", "model_weights", "model_config_hash", "cuts")}
    extra: dict = {"shards": num, **same}
    if guard != "off":
        extra.update(guard=guard, guard_flagged=flagged)
    write_json(out_dir / "decode.json", summarize(stats, frames, (positions, tokens), **extra))

"""Long recordings decoded long-form against the same sentences decoded one by one.

    cd egs/mini_synth/s2t1 && python ../../../bench/long_form.py --model-dir exp/mini/sft \\
        --data-dir data/test --config conf/decode.yaml --out-dir /tmp/bench_long

Builds recordings of ``--minutes`` (1, 3 and 5 by default; ``--per-length`` of each) by
concatenating the data dir's utterances in a seeded order with 0.3-0.5 s of silence
between them (no utterance in two recordings while the set lasts); decodes each recording
with the long-form path (:mod:`soundwave.decode.longform`: cut at the adapter's CTC blank
runs, pieces of at most ``--max-segment-s``, one run per value given) and its sentences
one by one, with the same generation settings (``generation`` of ``--config``); scores
both against the joined references with the Whisper English normaliser.  Writes ``long_form.json`` (every
recording, its pieces and where they were cut) and ``long_form.md``, a table per length:
minutes, recordings, pieces, cuts that fell in a silence between sentences, WER
long-form, WER one by one, their relative difference, seconds of each decoding.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from soundwave.config import load_config
from soundwave.data.tables import read_table
from soundwave.decode.decode import DecodeConfig, DecodeResult, decode_cuts
from soundwave.decode.infer import InferConfig, usable_cuts
from soundwave.decode.longform import LongFormConfig
from soundwave.models.stage_dir import load_stage
from soundwave.score.metrics import compute

SR = 16000


@dataclasses.dataclass
class Recording:
    name: str
    minutes: float
    utts: list[str]
    gaps: list[tuple[float, float]]  # the silences between utterances, in seconds
    duration: float
    path: str


def build_recordings(
    wav: dict[str, str], ids: list[str], minutes: list[float], per_length: int, seed: int, out: Path
) -> list[Recording]:
    """Concatenate utterances (seeded order) into recordings of at least each length."""
    rng = np.random.default_rng(seed)
    order = [ids[k] for k in rng.permutation(len(ids))]
    pos, recs = 0, []
    out.mkdir(parents=True, exist_ok=True)
    for m in minutes:
        for k in range(per_length):
            parts, utts, gaps, t = [], [], [], 0.0
            while t < 60.0 * m:
                utt = order[pos % len(order)]
                pos += 1
                if parts:
                    gap = np.zeros(int(rng.uniform(0.3, 0.5) * SR), dtype=np.float32)
                    gaps.append((t, t + len(gap) / SR))
                    parts.append(gap)
                    t += len(gap) / SR
                x, sr = sf.read(wav[utt], dtype="float32")
                if sr != SR or x.ndim != 1:
                    raise SystemExit(f"{wav[utt]}: expected 16 kHz mono")
                parts.append(x)
                utts.append(utt)
                t += len(x) / SR
            name = f"long{m:g}min-{k + 1}"
            path = out / f"{name}.wav"
            sf.write(path, np.concatenate(parts), SR, subtype="PCM_16")
            recs.append(Recording(name, m, utts, gaps, t, str(path)))
    return recs


def decode(model, inputs: dict[str, str], cfg: DecodeConfig) -> tuple[list[DecodeResult], float]:
    """Decode files (id -> path) as ``infer`` reads them; the results and the seconds."""
    cuts, failed = usable_cuts(inputs, print)
    if failed:
        raise SystemExit(f"cannot read {failed[0]}")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*eagerly read CutSet")
        warnings.filterwarnings("ignore", message=".*exceeded the max_duration")
        results = list(decode_cuts(model, cuts.sort_by_duration(ascending=False), "asr", cfg))
    return results, time.perf_counter() - start


def wer(ref: str, hyp: str) -> tuple[float, int, int]:
    """WER in %, errors and reference words, with the Whisper English normaliser."""
    r = compute("wer", ["r"], [ref], [hyp], normalizer="english")
    return r.scores["wer"], int(r.counts["errors"]), int(r.counts["ref_words"])


def in_gap(t: float, gaps: list[tuple[float, float]], slack: float = 0.1) -> bool:
    return any(a - slack <= t <= b + slack for a, b in gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data-dir", required=True, help="a Kaldi data dir: wav.scp, text")
    parser.add_argument("--config", help="a decoding YAML config (its generation settings)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 3.0, 5.0])
    parser.add_argument("--per-length", type=int, default=1, help="recordings of each length")
    parser.add_argument(
        "--max-segment-s", type=float, nargs="+", default=[20.0], help="one run per value"
    )
    parser.add_argument(
        "--split-blank-s",
        type=float,
        default=LongFormConfig.split_blank_s,
        help="also cut at every pause this long (long_form_cfg.split_blank_s; 0: off)",
    )
    parser.add_argument(
        "--quiet-level",
        type=float,
        default=LongFormConfig.quiet_level,
        help="long_form_cfg.quiet_level: how quiet a pause must be",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out_dir)
    wav = read_table(Path(args.data_dir) / "wav.scp")
    text = read_table(Path(args.data_dir) / "text")
    recs = build_recordings(
        wav, sorted(set(wav) & set(text)), args.minutes, args.per_length, args.seed, out / "audio"
    )

    base = load_config(DecodeConfig, args.config, []) if args.config else DecodeConfig()
    infer_cfg = InferConfig(batch_size=8, max_batch_seconds=60.0)
    cfg = infer_cfg.decode_config(80)
    cfg.generation = base.generation
    cfg.with_ctc = True
    model = load_stage(args.model_dir).eval()
    torch.set_grad_enabled(False)

    rows = []
    for rec in recs:
        singles, single_s = decode(model, {u: wav[u] for u in rec.utts}, cfg)
        by_id = {r.id: r.hyp for r in singles}
        ref = " ".join(text[u] for u in rec.utts)
        one_by_one = " ".join(by_id[u] for u in rec.utts)
        w_one, e_one, n_ref = wer(ref, one_by_one)
        for max_s in args.max_segment_s:
            cfg.long_form_cfg = LongFormConfig(
                max_segment_s=max_s, split_blank_s=args.split_blank_s, quiet_level=args.quiet_level
            )
            (long,), long_s = decode(model, {rec.name: rec.path}, cfg)
            w_long, e_long, _ = wer(ref, long.hyp)
            rows.append(
                row_of(rec, long, max_s, (w_long, e_long, long_s), (w_one, e_one, single_s))
                | {"ref_words": n_ref, "hyp_one_by_one": one_by_one, "ref": ref}
            )
            print(
                f"{rec.name} max {max_s:g} s: {rec.duration:.0f} s, {rows[-1]['pieces']} pieces "
                f"({rows[-1]['cuts_in_silence']}/{rows[-1]['pieces'] - 1} cuts in silence), "
                f"WER long-form {w_long:.2f} one by one {w_one:.2f}, "
                f"{long_s:.1f} s / {single_s:.1f} s",
                flush=True,
            )

    table = [
        "| minutes | max_segment_s | recordings | pieces | cuts in silence | WER long-form "
        "| WER one by one | relative difference | seconds long-form | seconds one by one |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in args.minutes:
        for max_s in args.max_segment_s:
            group = [r for r in rows if r["minutes"] == m and r["max_segment_s"] == max_s]
            table.append(table_row(m, max_s, group))
    summary = {
        "model_dir": args.model_dir,
        "data_dir": args.data_dir,
        "config": args.config,
        "seed": args.seed,
        "split_blank_s": args.split_blank_s,
        "quiet_level": args.quiet_level,
        "generation": dataclasses.asdict(cfg.generation),
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "recordings": rows,
        "table": table,
    }
    (out / "long_form.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "long_form.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


def row_of(
    rec: Recording,
    long: DecodeResult,
    max_s: float,
    long_scores: tuple[float, int, float],
    one_scores: tuple[float, int, float],
) -> dict:
    """One recording decoded long-form with ``max_s``: its JSON row."""
    cuts = [p.end for p in (long.pieces or [])[:-1]]
    return {
        "name": rec.name,
        "minutes": rec.minutes,
        "max_segment_s": max_s,
        "seconds_audio": round(rec.duration, 2),
        "utterances": len(rec.utts),
        "encoder_frames": long.encoder_frames,
        "pieces": len(long.pieces or [None]),
        "cuts_in_silence": sum(in_gap(t, rec.gaps) for t in cuts),
        "wer_long_form": round(long_scores[0], 2),
        "wer_one_by_one": round(one_scores[0], 2),
        "errors_long_form": long_scores[1],
        "errors_one_by_one": one_scores[1],
        "seconds_long_form": round(long_scores[2], 2),
        "seconds_one_by_one": round(one_scores[2], 2),
        "piece_spans": [(round(p.start, 2), round(p.end, 2)) for p in long.pieces or []],
        "piece_hyps": [p.hyp for p in long.pieces or []],
        "hyp_long_form": long.hyp,
    }


def table_row(minutes: float, max_s: float, group: list[dict]) -> str:
    """The markdown row of the recordings of one length decoded with one max_segment_s."""
    n_ref = sum(r["ref_words"] for r in group)
    w_long = 100.0 * sum(r["errors_long_form"] for r in group) / n_ref
    w_one = 100.0 * sum(r["errors_one_by_one"] for r in group) / n_ref
    rel = f"{100 * (w_long - w_one) / w_one:+.1f} %" if w_one else "-"
    cuts = sum(r["pieces"] - 1 for r in group)
    return (
        f"| {minutes:g} | {max_s:g} | {len(group)} | {sum(r['pieces'] for r in group)} "
        f"| {sum(r['cuts_in_silence'] for r in group)}/{cuts} | {w_long:.2f} | {w_one:.2f} "
        f"| {rel} | {sum(r['seconds_long_form'] for r in group):.1f} "
        f"| {sum(r['seconds_one_by_one'] for r in group):.1f} |"
    )


if __name__ == "__main__":
    main()

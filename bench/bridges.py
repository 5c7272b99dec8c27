"""The bridges side by side on the same speech: LLM positions per second of audio and per
transcript token, Stage II step time and peak memory at equal batch, time to first token.

    cd egs/mini_synth/s2t1 && python ../../../bench/bridges.py --model-dir exp/mini/align \\
        --train-enc data/enc/cuts_train.jsonl.gz --test-enc data/enc/cuts_test.jsonl.gz \\
        --test-fbank data/fbank/cuts_test.jsonl.gz

The model: a Stage I or later stage dir (``bench/run_all.py`` trains one briefly where the
default recipe's is missing: positions per token only mean something where the CTC was
trained).  Every
variant is that model with its bridge changed (``conf/ablation/*.yaml`` of the default
recipe): ``runs`` (as released), ``peaks``, ``soft`` (the recipe's: peaks, look-back to
the dropped frames, soft tokens), ``none`` (unshrunk 25 Hz) and the linear projector
over k = 5 and 8 stacked frames (``soundwave/models/baselines.py``; its weights are
random, which leaves its positions as they are).  Positions are counted on held-out
utterances.  The Stage II step (forward, backward, AdamW step of what Stage II trains)
starts from the encoder's outputs, as the recipe's Stage II reads them from the cache.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
import yaml
from bench_util import (
    RESULTS,
    best_time,
    machine_info,
    markdown_table,
    median,
    peak_bytes,
    shared_note,
    write_results,
)

from soundwave.bin import train
from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import audio_inputs
from soundwave.data.lhotse_io import load_cuts
from soundwave.decode.decode import DecodeConfig, first_token_seconds
from soundwave.models import SoundwaveModel
from soundwave.models.stage_dir import load_stage, read_stage_config
from soundwave.score.metrics import compute
from soundwave.train.optim import OptimConfig, build_optimizer
from soundwave.train.stages import apply_stage

# the default recipe's bridge ablation (egs/mini_synth/s2t1/conf/ablation), plus linear k=8
VARIANTS: dict[str, dict[str, Any]] = {
    "runs": {"bridge": "runs", "lookback": "kept", "soft_tokens": False},
    "peaks": {"bridge": "peaks", "lookback": "kept", "soft_tokens": False},
    "soft": {"bridge": "peaks", "lookback": "dropped", "soft_tokens": True},
    "none": {"bridge": "none", "soft_tokens": False},
    "linear5": {"bridge": "linear", "stack": 5, "soft_tokens": False},
    "linear8": {"bridge": "linear", "stack": 8, "soft_tokens": False},
}
SYSTEM = "You are a helpful speech assistant."  # the default recipe's (conf/align.yaml)


def stage1(root: Path, encoder: str, llm: str, train_enc: Path, steps: int) -> Path:
    """A brief Stage I (``soundwave.bin.train``) of an adapter and CTC head between
    ``encoder`` and ``llm``, on the encoder outputs ``train_enc`` (reused when done)."""
    out = root / f"align{steps}"
    if (out / "soundwave_config.json").exists():
        return out
    cfg = {
        "stage": "align",
        "model": {"encoder_path": encoder, "llm_path": llm, "lora_rank": 4, "lora_alpha": 8,
                  "adapter_dropout": 0.0, "system_prompt": SYSTEM, **VARIANTS["soft"]},
        "data": {"train": [{"cuts": str(train_enc), "tasks": ["asr"]}], "max_duration": 40,
                 "num_buckets": 2, "encoder_cache": True},
        "optim": {"lr": 5.0e-3, "warmup_steps": min(10, steps)},
        "train": {"max_steps": steps, "log_interval": 25, "save_interval": steps,
                  "keep_last": 1, "progress_bar": False},
    }  # fmt: skip
    (root / "align.yaml").write_text(yaml.safe_dump(cfg))
    train.main(["--config", str(root / "align.yaml"), "--exp-dir", str(out)])
    return out


def load_variant(model_dir: Path, name: str) -> SoundwaveModel:
    """The stage dir's model with ``name``'s bridge; the linear projector is new (random)."""
    overrides = VARIANTS[name]
    if overrides["bridge"] == "linear":
        torch.manual_seed(0)
        return SoundwaveModel(read_stage_config(model_dir, overrides))
    return load_stage(model_dir, overrides)


def batches(enc_cuts: Path, max_cuts: int | None) -> list[dict]:
    """Fixed batches of cuts with stored encoder outputs."""
    data = DataConfig(max_duration=60.0, max_cuts=max_cuts, encoder_cache=True)
    return list(eval_batches(load_cuts(enc_cuts), "asr", data))


@torch.no_grad()
def positions(model: SoundwaveModel, test: list[dict]) -> dict[str, float]:
    """LLM positions per second of audio and per transcript token over ``test``."""
    model.eval()
    pos = frames = tokens = seconds = 0.0
    for batch in test:
        enc = model.encode_audio(**audio_inputs(batch))
        pos += float(enc.lengths.sum())
        frames += float(enc.frame_lens.sum())
        seconds += float(batch["feat_lens"].sum()) / 100.0
        tokens += sum(len(model.tokenizer(t, add_special_tokens=False).input_ids)
                      for t in batch["transcripts"])  # fmt: skip
    return {
        "positions": int(pos),
        "audio_seconds": round(seconds, 2),
        "transcript_tokens": int(tokens),
        "positions_per_second": pos / seconds,
        "positions_per_token": pos / tokens,
    }


@torch.no_grad()
def ctc_wer(model: SoundwaveModel, test: list[dict]) -> float:
    """Greedy CTC WER (%) of the adapter: how trained the model that shrinks is."""
    refs, hyps = [], []
    for batch in test:
        hyps += model.ctc_transcribe(**audio_inputs(batch))
        refs += batch["transcripts"]
    ids = [str(i) for i in range(len(refs))]
    return compute("wer", ids, refs, hyps, normalizer="english").scores["wer"]


def stage2_step(model: SoundwaveModel, batch: dict, repeats: int) -> dict[str, float]:
    """Best-of seconds and peak memory of one Stage II step on ``batch`` (stored encoder
    outputs, as the recipe's Stage II reads them)."""
    apply_stage(model, "shrink")
    model.train()
    x, lens = model.encoder_frames(None, None, batch["encoded"])
    optimizer = build_optimizer(model, OptimConfig(lr=1e-4))
    text = {k: batch[k] for k in ("instructions", "targets", "transcripts")}

    def step() -> None:
        out = model(encoding=model.encode_frames(x, lens), **text)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()

    seconds, _ = best_time(step, repeats)
    return {"step_seconds": seconds, "step_peak_bytes": peak_bytes(step)}


def ttft(model: SoundwaveModel, cuts_path: Path, utts: int) -> float:
    """Median seconds from log-mel to the first greedy token at batch 1 (the project's own
    ``measure_ttft``)."""
    cfg = DecodeConfig(measure_ttft=utts, data=DataConfig(max_duration=60.0))
    return median(first_token_seconds(model, load_cuts(cuts_path), "asr", cfg))


def run(model_dir: Path, source: str, train_enc: Path, test_enc: Path, test_fbank: Path,
        batch: int, repeats: int, ttft_utts: int,
        variants: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Every variant of ``model_dir``'s model on the same utterances and the same batch."""
    test = batches(test_enc, None)
    step_batch = batches(train_enc, batch)[0]
    rows: dict[str, dict[str, Any]] = {}
    for name in variants or VARIANTS:
        model = load_variant(model_dir, name)
        row = positions(model, test)
        if model.cfg.has_ctc and not any("ctc_wer" in r for r in rows.values()):
            row["ctc_wer"] = ctc_wer(model, test)  # the same adapter in every CTC variant
        row["ttft_seconds"] = ttft(model, test_fbank, ttft_utts)
        row |= stage2_step(model, step_batch, repeats)
        rows[name] = row
        print(f"bridges: {name} {row}", flush=True)
    ctc = next((r["ctc_wer"] for r in rows.values() if "ctc_wer" in r), None)
    return {"model": source, "model_dir": str(model_dir), "batch": len(step_batch["ids"]),
            "test_utts": sum(len(b["ids"]) for b in test), "ctc_wer_test": ctc,
            "variants": rows}  # fmt: skip


def table(result: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    rows = result["variants"]
    base = rows.get("none")
    header = ["bridge", "positions / s", "positions / token", "Stage II step ms",
              "step vs none", "step peak MiB", "TTFT ms"]  # fmt: skip
    body = [
        [name, r["positions_per_second"], r["positions_per_token"], 1000 * r["step_seconds"],
         f"{base['step_seconds'] / r['step_seconds']:.2f}x" if base else None,
         r["step_peak_bytes"] / 2**20, 1000 * r["ttft_seconds"]]
        for name, r in rows.items()
    ]  # fmt: skip
    note = (
        f"Model: {result['model']}; {result['test_utts']} held-out utterances, Stage II "
        f"batch {result['batch']}; {shared_note(machine)}."
    )
    return [note, "", *markdown_table(header, body)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", required=True, help="a stage dir (Stage I or later)")
    parser.add_argument("--train-enc", required=True, help="cuts with encoder outputs: the step")
    parser.add_argument("--test-enc", required=True, help="cuts with encoder outputs: positions")
    parser.add_argument("--test-fbank", required=True, help="log-mel cuts: time to first token")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--batch", type=int, default=8, help="utterances per Stage II step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ttft-utts", type=int, default=8)
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args()
    result = run(Path(args.model_dir), f"stage dir {args.model_dir}", Path(args.train_enc),
                 Path(args.test_enc), Path(args.test_fbank), args.batch, args.repeats,
                 args.ttft_utts, args.variants)  # fmt: skip
    lines = table(result, machine_info())
    write_results(Path(args.out_dir), "bridges", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

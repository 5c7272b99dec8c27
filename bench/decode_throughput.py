"""Decoding throughput: the project's batched decoding (left-padded batch, KV cache, HF
``generate``) against a one-utterance loop (batch 1, as the released ``run_inference.py``
decodes), greedy, on the same utterances and model; the outputs must be identical.

    python bench/decode_throughput.py --model-dir DIR --cuts cuts.jsonl.gz [--batch 16]

Both paths run the whole response: log-mel in memory -> encoder -> adapter -> bridge ->
LLM generation.  The loop keeps the model's own encoder input (the released code pads
every utterance to 30 s, which would change the outputs, not only the time).  Writes
``decode_throughput.json`` / ``.md``; exits non-zero when an output differs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from bench_util import RESULTS, machine_info, markdown_table, shared_note, write_results

from soundwave.data.batches import DataConfig, eval_batches
from soundwave.data.collate import audio_inputs
from soundwave.data.lhotse_io import load_cuts
from soundwave.models import SoundwaveModel
from soundwave.models.stage_dir import load_stage


class OutputsDiffer(AssertionError):
    """The batched decoding's outputs are not the loop's."""


def assert_same(batched: dict[str, list[int]], looped: dict[str, list[int]]) -> None:
    """Raise :class:`OutputsDiffer` naming the first utterance whose token ids differ (or
    that one path did not decode)."""
    if batched.keys() != looped.keys():
        missing = sorted(batched.keys() ^ looped.keys())
        raise OutputsDiffer(f"{len(missing)} utterances decoded by one path only: {missing[:3]}")
    differ = [u for u in batched if batched[u] != looped[u]]
    if differ:
        u = differ[0]
        raise OutputsDiffer(
            f"{len(differ)}/{len(batched)} outputs differ; first {u}: batched {batched[u]} "
            f"vs loop {looped[u]}"
        )


@torch.no_grad()
def decode(model: SoundwaveModel, batches: list[dict], max_new_tokens: int) -> dict[str, list[int]]:
    """Greedy token ids of every utterance, batch by batch as given."""
    out: dict[str, list[int]] = {}
    for batch in batches:
        enc = model.encode_audio(**audio_inputs(batch))
        ids = model.generate_ids(
            None, None, batch["instructions"], max_new_tokens=max_new_tokens, encoding=enc
        )
        out.update(zip(batch["ids"], ids))
    return out


def timed(fn, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(model: SoundwaveModel, cuts_path: str | Path, batch: int, utts: int,
        max_new_tokens: int, repeats: int) -> dict[str, Any]:  # fmt: skip
    """Time both paths over the first ``utts`` cuts; the result records the comparison."""
    model.eval()
    cuts = load_cuts(cuts_path).to_eager()
    cuts = cuts.subset(first=min(utts, len(cuts)))

    def layout(size: int) -> list[dict]:
        data = DataConfig(max_duration=1e6, max_cuts=size)
        return list(eval_batches(cuts, "asr", data))

    batched_in, single_in = layout(batch), layout(1)
    decode(model, batched_in[:1], 2)  # warm-up: lazy initialisation is not decoding
    decode(model, single_in[:1], 2)
    loop_s, looped = timed(lambda: decode(model, single_in, max_new_tokens), repeats)
    batch_s, batched = timed(lambda: decode(model, batched_in, max_new_tokens), repeats)
    tokens = sum(len(v) for v in batched.values())
    result = {
        "batch": batch,
        "utts": len(batched),
        "max_new_tokens": max_new_tokens,
        "generated_tokens": tokens,
        "loop_seconds": loop_s,
        "batched_seconds": batch_s,
        "loop_utts_per_second": len(looped) / loop_s,
        "batched_utts_per_second": len(batched) / batch_s,
        "speedup": loop_s / batch_s,
        "identical": True,
        "difference": None,
    }
    try:
        assert_same(batched, looped)
    except OutputsDiffer as err:
        result["identical"], result["difference"] = False, str(err)
    return result


def table(result: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    header = ["decoding", "utterances", "seconds", "utterances / s", "speedup", "outputs"]
    same = "identical" if result["identical"] else "DIFFER"
    body = [
        ["one-utterance loop (batch 1)", result["utts"], result["loop_seconds"],
         result["loop_utts_per_second"], "1.00x", same],
        [f"batched, KV cache (batch {result['batch']})", result["utts"],
         result["batched_seconds"], result["batched_utts_per_second"],
         f"{result['speedup']:.2f}x", same],
    ]  # fmt: skip
    note = (
        f"Greedy, up to {result['max_new_tokens']} new tokens ({result['generated_tokens']} "
        f"generated); model: {result.get('model', '-')}; {shared_note(machine)}."
    )
    return [note, "", *markdown_table(header, body)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--cuts", required=True, help="log-mel cuts (jsonl.gz)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--utts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args()
    model = load_stage(args.model_dir)
    result = run(model, args.cuts, args.batch, args.utts, args.max_new_tokens, args.repeats)
    result["model"] = args.model_dir
    lines = table(result, machine_info())
    write_results(Path(args.out_dir), "decode_throughput", result, lines)
    print("\n".join(lines))
    if not result["identical"]:
        raise SystemExit(f"decode_throughput: {result['difference']}")


if __name__ == "__main__":
    main()

"""Compare trained variants of one stage side by side (the bridge ablation's table).

Usage:
    python -m soundwave.bin.compare_runs --set test --reference linear5 --out ABLATION.md \
        [--tokenizer exp/standin/llm] runs=exp/ablation/runs/shrink peaks=exp/ablation/peaks/shrink ...

Each run is a stage directory with ``history.json`` (written by the trainer) and decoded,
scored ``decode_<set>_<task>/`` subdirectories.  The table gives per run: every task's
metric on --set, the LLM positions per second of audio (from decoding) and, with
--tokenizer (the LLM's), per token of the reference transcripts, the mean training step
time, the final validation WER, and the number of training steps after
which the run's validation WER first reached the --reference run's final validation WER.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from soundwave.bin.decode import read_shrink_stats
from soundwave.errors import UserError, cli_main
from soundwave.fileio import atomic_write
from soundwave.models.llm import load_tokenizer
from soundwave.score.results import read_score
from soundwave.score.textio import read_utt_texts

VALID_KEY = "valid_asr_wer"


def read_history(run_dir: Path) -> list[dict]:
    path = run_dir / "history.json"
    if not path.is_file():
        raise UserError("no history.json (has the stage finished?)", path)
    return json.loads(path.read_text())


def valid_curve(history: list[dict]) -> list[tuple[int, float]]:
    return [(row["step"], row[VALID_KEY]) for row in history if VALID_KEY in row]


def steps_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((step for step, wer in curve if wer <= target), None)


def positions_per_token(decode_dir: Path, tokenizer) -> float | None:
    """LLM audio positions of the utterances in ``shrink_stats.txt`` over the LLM tokens of
    their reference transcripts (``ref.txt``): how close the bridge is to one per token."""
    stats, refs = decode_dir / "shrink_stats.txt", decode_dir / "ref.txt"
    if not (stats.is_file() and refs.is_file()):
        return None
    positions = {utt: n for utt, (_, _, n) in read_shrink_stats(stats).items()}
    text = read_utt_texts(refs)
    utts = [u for u in positions if u in text]
    tokens = sum(len(tokenizer.encode(text[u], add_special_tokens=False)) for u in utts)
    return sum(positions[u] for u in utts) / tokens if tokens else None


def run_row(name: str, run_dir: Path, set_name: str, tokenizer=None) -> dict:
    history = read_history(run_dir)
    times = [row["sec_per_step"] for row in history if "sec_per_step" in row]
    row = {
        "run": name,
        "sec_per_step": sum(times) / len(times) if times else None,
        "curve": valid_curve(history),
        "scores": {},
    }
    for score_file in sorted(run_dir.glob(f"decode_{set_name}_*/score_*.json")):
        record = read_score(score_file)
        row["scores"][f"{record.task} {record.metric}"] = record.value
        stats = score_file.parent / "decode.json"
        if record.task == "asr" and stats.is_file():
            row["positions_per_second"] = json.loads(stats.read_text()).get(
                "llm_positions_per_second"
            )
        if record.task == "asr" and tokenizer is not None:
            row["positions_per_token"] = positions_per_token(score_file.parent, tokenizer)
    return row


def fmt(value, digits: int = 2) -> str:
    return (
        "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    )


def table(rows: list[dict], reference: str | None) -> str:
    metrics = sorted({k for r in rows for k in r["scores"]})
    ref = next((r for r in rows if r["run"] == reference), None)
    target = ref["curve"][-1][1] if ref and ref["curve"] else None
    per_token = any("positions_per_token" in r for r in rows)
    head = ["run", *metrics, "LLM positions / s"]
    head += ["LLM positions / transcript token"] * per_token + ["s / step", "final valid WER"]
    if target is not None:
        head.append(f"steps to valid WER ≤ {target:.2f} ({reference}'s final)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["run"], *(fmt(r["scores"].get(m)) for m in metrics)]
        cells.append(fmt(r.get("positions_per_second")))
        cells += [fmt(r.get("positions_per_token"))] * per_token + [fmt(r["sec_per_step"], 3)]
        cells.append(fmt(r["curve"][-1][1]) if r["curve"] else "-")
        if target is not None:
            reached = steps_to_reach(r["curve"], target)
            total = r["curve"][-1][0] if r["curve"] else None
            cells.append("not reached" if reached is None else f"{reached} of {total}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="soundwave.bin.compare_runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", help="name=stage-dir")
    parser.add_argument("--set", default="test", help="evaluation set of the metrics")
    parser.add_argument("--reference", help="run whose final validation WER the others must reach")
    parser.add_argument("--out", help="markdown file to write (default: stdout)")
    parser.add_argument("--tokenizer", help="the LLM's directory: positions per transcript token")
    args = parser.parse_args(argv)
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    rows = []
    for item in args.runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise UserError(f"run '{item}' is not of the form name=dir")
        rows.append(run_row(name, Path(path), args.set, tokenizer))
    text = table(rows, args.reference)
    if args.out:
        with atomic_write(args.out) as f:
            f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()

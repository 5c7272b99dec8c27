"""Trained variants of one stage side by side (the bridge ablation's table).

Each run is a stage directory with ``history.json`` (written by the trainer) and decoded,
scored ``decode_<set>_<task>/`` subdirectories.  The table gives per run: every task's
metric on the set, the LLM positions per second of audio (from decoding) and, with a
token counter (the LLM's tokenizer), per token of the reference transcripts, the mean
training step time, the final validation WER, and the number of training steps after
which the run's validation WER first reached the reference run's final validation WER.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from soundwave.errors import UserError
from soundwave.score.results import read_score
from soundwave.score.textio import read_shrink_stats, read_utt_texts
from soundwave.viz.history import History, read_history

TokenCounter = Callable[[str], int]
VALID_KEY = "valid_asr_wer"


def finished_history(run_dir: Path) -> History:
    history = read_history(run_dir)
    if history.running:
        raise UserError("no history.json (has the stage finished?)", run_dir / "history.json")
    return history


def valid_curve(history: History) -> list[tuple[int, float]]:
    return [(int(row["step"]), row[VALID_KEY]) for row in history.valid if VALID_KEY in row]


def steps_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((step for step, wer in curve if wer <= target), None)


def positions_per_token(decode_dir: Path, count_tokens: TokenCounter) -> float | None:
    """LLM audio positions of the utterances in ``shrink_stats.txt`` over the LLM tokens of
    their reference transcripts (``ref.txt``): how close the bridge is to one per token."""
    stats, refs = decode_dir / "shrink_stats.txt", decode_dir / "ref.txt"
    if not (stats.is_file() and refs.is_file()):
        return None
    positions = {utt: n for utt, (_, _, n) in read_shrink_stats(stats).items()}
    text = read_utt_texts(refs)
    utts = [u for u in positions if u in text]
    tokens = sum(count_tokens(text[u]) for u in utts)
    return sum(positions[u] for u in utts) / tokens if tokens else None


def run_row(
    name: str, run_dir: Path, set_name: str, count_tokens: TokenCounter | None = None
) -> dict:
    history = finished_history(run_dir)
    times = [row["sec_per_step"] for row in history.train if "sec_per_step" in row]
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
        if record.task == "asr" and count_tokens is not None:
            row["positions_per_token"] = positions_per_token(score_file.parent, count_tokens)
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


def compare_runs(
    runs: Sequence[str], set_name: str, reference: str | None, tokenizer_dir: str | None = None
) -> str:
    """The markdown table of ``runs`` (``name=stage-dir`` items)."""
    count_tokens = None
    if tokenizer_dir:
        from soundwave.models.llm import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_dir)

        def count_tokens(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False))

    rows = []
    for item in runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise UserError(f"run '{item}' is not of the form name=dir")
        rows.append(run_row(name, Path(path), set_name, count_tokens))
    return table(rows, reference)
